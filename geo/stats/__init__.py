"""Spatial statistics: weights, permutation inference, local Moran, Getis-Ord Gi*, bivariate
local Moran, global Moran and map classes. Plain arrays in, tables out: nothing here touches the
store."""
