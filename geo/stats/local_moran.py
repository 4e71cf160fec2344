"""Local Moran's I (Anselin 1995, "Local indicators of spatial association - LISA").

For each area i, with values standardised as GeoDa does (z = (x - mean) / sd, sample sd) and
row-standardised weights:

    I_i = z_i * lag_i,   lag_i = mean of z over i's neighbours

Inference by conditional permutation (:mod:`geo.stats.permutation`): z_i is held fixed and the
neighbours' values are drawn from the other areas.

Output columns (one row per LSOA, indexed by code):

``value``       the input value
``z``           standardised value
``lag``         spatial lag of z (mean of the neighbours' z)
``moran_i``     the local statistic I_i
``p_value``     pseudo p-value in the stated direction (p-value convention): folded by
                default, as GeoDa and esda; or two-sided, greater, less
``quadrant``    1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low (signs of z and lag)
``significant`` p_value <= alpha (or rejected by Benjamini-Hochberg at FDR alpha)
``cluster``     High-High, Low-Low, Low-High, High-Low, Not significant, No data, or
                No neighbours with data
``neighbours``  the number of neighbours with a value

``attrs``: ``statistic``, ``permutations``, ``seed``, ``alpha``, ``fdr``, ``direction`` and
``p_value_convention`` (the same), ``method`` (the test in words, for legends and exports).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.stats.local_statistics import expand, lisa, prepare, standardise
from geo.stats.permutation import DEFAULT_DIRECTION, describe_test
from geo.stats.weights import Weights

NAME = "local Moran's I"


def local_moran(values, weights: Weights, permutations: int = 999, seed: int | None = 12345, alpha: float = 0.05,
                direction: str = DEFAULT_DIRECTION, fdr: bool = False) -> pd.DataFrame:
    prepared = prepare(weights, values)
    x = np.asarray(values, dtype=float)[prepared.valid]
    z = standardise(x)
    result = lisa(prepared, z, z, permutations, seed, alpha, direction, fdr)
    n_perm = result.pop("permutations")
    frame = expand(prepared, weights.ids, {"value": x, "z": z, **result}, label_column="cluster")
    frame.attrs.update({"statistic": "local Moran's I", "permutations": n_perm, "seed": seed,
                        "alpha": alpha, "direction": direction, "fdr": fdr,
                        "p_value_convention": direction,
                        "method": NAME + ": " + describe_test(direction, "permutation", n_perm, alpha, fdr)})
    return frame
