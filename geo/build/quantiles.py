"""Quantiles of areas within groups, by Public Health England's method.

``quantile = floor((q + 1) - ceiling(((n + 1) - rank) / (n / q)))``

where ``q`` is the number of quantiles, ``n`` the number of areas with a value in the group and
``rank`` the area's rank within the group, 1 for the worst value (ties share the lowest rank).
Quantile 1 holds the worst areas: for deprivation scores (higher is more deprived) quantile 1
is the most deprived, as in MHCLG's national deciles. Gapmap's local deciles and quintiles
(``imd_decile_in_icb`` ... ``imd_quintile_in_lad``) are formed on the LSOAs' national IMD RANK
(``higher_is_worse=False``, rank 1 = most deprived), not on the published score: MHCLG ranked the
unrounded scores, so the rank orders LSOAs whose published (3-decimal) scores tie. Missing values get no quantile, and nor
does any area of a group with fewer areas than quantiles (as PHE's ``phe_quantile`` does).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InvalidValue


def quantiles(values: pd.Series, n_quantiles: int, higher_is_worse: bool = True,
              groups: pd.Series | list[pd.Series] | None = None) -> pd.Series:
    """Quantile (1 = worst) of each value within its group, as a nullable integer Series."""
    if n_quantiles < 2:
        raise InvalidValue("n_quantiles must be at least 2")
    values = pd.to_numeric(pd.Series(values), errors="coerce").astype("float64")
    badness = values if higher_is_worse else -values
    if groups is None:
        keys = [np.zeros(len(values), dtype=np.int8)]
    elif isinstance(groups, list):
        keys = [pd.Series(g).to_numpy() for g in groups]
    else:
        keys = [pd.Series(groups).to_numpy()]
    grouped = badness.groupby(keys, sort=False, dropna=False)
    rank = grouped.rank(method="min", ascending=False)
    n = grouped.transform("count").astype("float64")
    q = float(n_quantiles)
    # ((n + 1) - rank) / (n / q) written as a single division, so that exact quotients such as
    # 150 / (150 / 7) = 7 are not pushed over an integer by rounding
    result = np.floor((q + 1) - np.ceil(((n + 1) - rank) * q / n))
    result = result.where(n >= q)
    return pd.Series(result, index=values.index).astype("Int64")
