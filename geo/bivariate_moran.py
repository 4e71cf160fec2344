"""Bivariate local Moran's I (Anselin, Syabri and Smirnov 2002), as GeoDa computes it.

For x (here a deprivation measure) and y (an activity measure), both standardised with the
sample sd, and row-standardised weights:

    I_i = zx_i * lag_i,   lag_i = mean of zy over i's neighbours

High-High: a deprived area surrounded by high activity. Inference by conditional permutation
of y over the neighbours, zx_i held fixed (:mod:`geo.permutation`).

Output columns: ``x``, ``y``, ``zx``, ``zy``, ``lag`` (lag of zy), ``moran_i``, ``p_value``,
``quadrant`` (by the signs of zx and the lag), ``significant``, ``cluster``, ``neighbours``;
as in :mod:`geo.local_moran`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.local_statistics import cluster_labels, expand, prepare, quadrant, significant, standardise, table_for
from geo.permutation import count_extreme, p_values
from geo.weights import Weights


def bivariate_moran(x_values, y_values, weights: Weights, permutations: int = 999, seed: int | None = 12345,
                    alpha: float = 0.05, direction: str = "two-sided", fdr: bool = False) -> pd.DataFrame:
    prepared = prepare(weights, x_values, y_values)
    x = np.asarray(x_values, dtype=float)[prepared.valid]
    y = np.asarray(y_values, dtype=float)[prepared.valid]
    zx, zy = standardise(x), standardise(y)
    k = prepared.cardinality
    neighbour_sum = prepared.weights.neighbours @ zy
    lag = np.divide(neighbour_sum, k, out=np.zeros_like(neighbour_sum), where=k > 0)
    table = table_for(prepared, permutations, seed)
    above, below = count_extreme(table, zy, k, neighbour_sum)
    greater = np.where(zx >= 0, above, below)
    less = np.where(zx >= 0, below, above)
    p = p_values(greater, less, table.permutations, direction)
    p[k == 0] = np.nan
    quad = quadrant(zx, lag)
    sig = significant(np.where(k > 0, p, 1.0), alpha, fdr)
    frame = expand(prepared, weights.ids, {
        "x": x, "y": y, "zx": zx, "zy": zy, "lag": lag, "moran_i": zx * lag, "p_value": p, "quadrant": quad,
        "significant": sig, "cluster": cluster_labels(quad, sig, k), "neighbours": k,
    }, label_column="cluster")
    frame.attrs.update({"statistic": "bivariate local Moran's I", "permutations": table.permutations,
                        "seed": seed, "alpha": alpha, "direction": direction, "fdr": fdr})
    return frame
