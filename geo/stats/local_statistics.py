"""What the local statistics share: valid values, the permutation table, labels.

Each statistic lives in its own module (:mod:`geo.stats.local_moran`, :mod:`geo.stats.getis_ord`,
:mod:`geo.stats.bivariate_moran`); this one holds the common steps so that they are written once.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from geo.errors import InvalidValue
from geo.stats.permutation import PermutationTable, benjamini_hochberg, count_extreme, draw_table, p_values
from geo.stats.weights import Weights

ALPHAS = (0.05, 0.01, 0.001)
QUADRANT_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
NOT_SIGNIFICANT = "Not significant"
NO_DATA = "No data"
NO_NEIGHBOURS = "No neighbours with data"


@dataclass
class Prepared:
    weights: Weights  # among the areas with a value
    valid: np.ndarray  # mask over the original areas
    cardinality: np.ndarray


def prepare(weights: Weights, *columns: np.ndarray) -> Prepared:
    """Keep the areas where every column has a value; weights among them."""
    valid = np.ones(weights.n, dtype=bool)
    for column in columns:
        column = np.asarray(column, dtype=float)
        if len(column) != weights.n:
            raise InvalidValue(f"{len(column)} values for {weights.n} areas")
        valid &= np.isfinite(column)
    sub = weights.subset(valid)
    return Prepared(sub, valid, sub.cardinality)


def standardise(values: np.ndarray) -> np.ndarray:
    """(x - mean) / sample standard deviation, as GeoDa standardises."""
    values = np.asarray(values, dtype=float)
    sd = values.std(ddof=1)
    if not np.isfinite(sd) or sd == 0:
        raise InvalidValue("the values do not vary, so no spatial statistic can be computed")
    return (values - values.mean()) / sd


@lru_cache(maxsize=16)
def _table(n: int, k_max: int, permutations: int, seed: int | None) -> PermutationTable:
    return draw_table(n, k_max, permutations, seed)


def table_for(prepared: Prepared, permutations: int, seed: int | None) -> PermutationTable:
    """The shared permutation table for these areas (cached, so statistics on the same extent
    and seed draw the same samples)."""
    k_max = int(prepared.cardinality.max(initial=0))
    return _table(prepared.weights.n, max(k_max, 1), permutations, seed)


def significant(p: np.ndarray, alpha: float, fdr: bool) -> np.ndarray:
    if alpha not in ALPHAS:
        raise InvalidValue(f"alpha must be one of {', '.join(map(str, ALPHAS))}")
    return benjamini_hochberg(p, alpha) if fdr else p <= alpha


def expand(prepared: Prepared, ids: tuple, columns: dict[str, np.ndarray], label_column: str | None = None) -> pd.DataFrame:
    """Results over the valid areas, placed back among all areas ('No data' where missing)."""
    n = len(ids)
    out = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind == "b":
            full = np.zeros(n, dtype=bool)
        elif values.dtype.kind in "iuf":
            full = np.full(n, np.nan)
        else:
            full = np.full(n, None, dtype=object)
        full[prepared.valid] = values
        out[name] = full
    frame = pd.DataFrame(out, index=pd.Index(ids, name="lsoa21cd"))
    if label_column:
        frame.loc[~prepared.valid, label_column] = NO_DATA
    return frame


def quadrant(x_sign_source: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low (esda's numbering)."""
    high, lag_high = x_sign_source > 0, lag > 0
    return np.select([high & lag_high, ~high & lag_high, ~high & ~lag_high], [1, 2, 3], 4)


def cluster_labels(quad: np.ndarray, is_significant: np.ndarray, cardinality: np.ndarray) -> np.ndarray:
    labels = np.array([QUADRANT_LABELS[q] for q in quad], dtype=object)
    labels[~is_significant] = NOT_SIGNIFICANT
    labels[cardinality == 0] = NO_NEIGHBOURS
    return labels


def lisa(prepared: Prepared, fixed_z: np.ndarray, permuted_z: np.ndarray, permutations: int, seed: int | None,
         alpha: float, direction: str, fdr: bool) -> dict:
    """The shared part of local Moran's I and its bivariate form: I_i = fixed_z_i * lag_i, where
    lag_i is the mean of ``permuted_z`` over i's neighbours, with conditional permutation p-values
    and cluster labels."""
    k = prepared.cardinality
    neighbour_sum = prepared.weights.neighbours @ permuted_z
    lag = np.divide(neighbour_sum, k, out=np.zeros_like(neighbour_sum), where=k > 0)
    table = table_for(prepared, permutations, seed)
    above, below = count_extreme(table, permuted_z, k, neighbour_sum)
    # I_i >= observed  <=>  lag >= observed lag when fixed_z_i > 0, lag <= observed lag when < 0
    greater = np.where(fixed_z >= 0, above, below)
    less = np.where(fixed_z >= 0, below, above)
    p = p_values(greater, less, table.permutations, direction)
    p[k == 0] = np.nan
    quad = quadrant(fixed_z, lag)
    sig = significant(np.where(k > 0, p, 1.0), alpha, fdr)
    return {"lag": lag, "moran_i": fixed_z * lag, "p_value": p, "quadrant": quad, "significant": sig,
            "cluster": cluster_labels(quad, sig, k), "neighbours": k, "permutations": table.permutations}
