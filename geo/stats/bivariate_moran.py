"""Bivariate local Moran's I (Anselin, Syabri and Smirnov 2002), as GeoDa computes it.

For x (here a deprivation measure) and y (an activity measure), both standardised with the
sample sd, and row-standardised weights:

    I_i = zx_i * lag_i,   lag_i = mean of zy over i's neighbours

High-High: a deprived area surrounded by high activity. Inference by conditional permutation
of y over the neighbours, zx_i held fixed (:mod:`geo.stats.permutation`).

Output columns: ``x``, ``y``, ``zx``, ``zy``, ``lag`` (lag of zy), ``moran_i``, ``p_value``,
``quadrant`` (by the signs of zx and the lag), ``significant``, ``cluster``, ``neighbours``;
as in :mod:`geo.stats.local_moran`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.stats.local_statistics import expand, lisa, prepare, standardise
from geo.stats.permutation import DEFAULT_DIRECTION, describe_test
from geo.stats.weights import Weights

NAME = "bivariate local Moran's I"


def bivariate_moran(x_values, y_values, weights: Weights, permutations: int = 999, seed: int | None = 12345,
                    alpha: float = 0.05, direction: str = DEFAULT_DIRECTION, fdr: bool = False) -> pd.DataFrame:
    prepared = prepare(weights, x_values, y_values)
    x = np.asarray(x_values, dtype=float)[prepared.valid]
    y = np.asarray(y_values, dtype=float)[prepared.valid]
    zx, zy = standardise(x), standardise(y)
    result = lisa(prepared, zx, zy, permutations, seed, alpha, direction, fdr)
    n_perm = result.pop("permutations")
    frame = expand(prepared, weights.ids, {"x": x, "y": y, "zx": zx, "zy": zy, **result}, label_column="cluster")
    frame.attrs.update({"statistic": "bivariate local Moran's I", "permutations": n_perm,
                        "seed": seed, "alpha": alpha, "direction": direction, "fdr": fdr,
                        "p_value_convention": direction,
                        "method": NAME + ": " + describe_test(direction, "permutation", n_perm, alpha, fdr)})
    return frame
