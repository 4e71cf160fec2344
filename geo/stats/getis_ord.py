"""Getis-Ord Gi* hot and cold spots (Getis and Ord 1992; Ord and Getis 1995).

With row-standardised weights that include the area itself (each of i and its k neighbours
weighs 1 / (k + 1)), as GeoDa's Gi*:

    G*_i = sum_j w_ij x_j / sum_j x_j

Analytic inference (Ord and Getis 1995, eq. 14, with W_i = sum_j w_ij = 1 and
S1_i = sum_j w_ij^2 = 1 / (k + 1)):

    z_i = (sum_j w_ij x_j - mean(x)) / (s * sqrt((n * S1_i - 1) / (n - 1))),
    s = sqrt(sum x^2 / n - mean(x)^2)

and a two-sided normal p-value. Permutation inference holds x_i fixed and draws the neighbours'
values from the other areas (:mod:`geo.stats.permutation`).

Output columns:

``value``          the input value
``g_star``         G*_i
``z``              the analytic z-score
``p_analytic``     two-sided p-value of z
``p_permutation``  pseudo p-value by conditional permutation (in the stated direction)
``p_value``        the p-value of the chosen inference
``bin``            -3..3: 3 hot spot at 99% confidence (p <= 0.01), 2 at 95%, 1 at 90%,
                   0 not significant, -1..-3 cold spots likewise
``spot``           the bin in words ("Hot spot, 99% confidence", ..., "Not significant")
``neighbours``     the number of neighbours with a value
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.errors import InvalidValue
from geo.stats.local_statistics import expand, prepare, table_for
from geo.stats.permutation import count_extreme, p_values
from geo.stats.weights import Weights

INFERENCE = ("analytic", "permutation")
BIN_LABELS = {3: "Hot spot, 99% confidence", 2: "Hot spot, 95% confidence", 1: "Hot spot, 90% confidence",
              0: "Not significant", -1: "Cold spot, 90% confidence", -2: "Cold spot, 95% confidence",
              -3: "Cold spot, 99% confidence"}


def confidence_bins(p: np.ndarray, sign: np.ndarray) -> np.ndarray:
    level = np.select([p <= 0.01, p <= 0.05, p <= 0.10], [3, 2, 1], 0)
    return np.where(np.isnan(p), 0, level * np.sign(sign)).astype(int)


def getis_ord(values, weights: Weights, inference: str = "analytic", permutations: int = 999,
              seed: int | None = 12345, direction: str = "two-sided") -> pd.DataFrame:
    if inference not in INFERENCE:
        raise InvalidValue(f"inference must be one of {', '.join(INFERENCE)}")
    prepared = prepare(weights, values)
    x = np.asarray(values, dtype=float)[prepared.valid]
    n = len(x)
    k = prepared.cardinality
    neighbour_sum = prepared.weights.neighbours @ x
    local_mean = (x + neighbour_sum) / (k + 1)
    total = x.sum()
    g_star = local_mean / total if total != 0 else np.full(n, np.nan)
    mean = x.mean()
    s = np.sqrt((x ** 2).mean() - mean ** 2)
    s1 = 1.0 / (k + 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # no variance (an area of every LSOA): no z
        z = (local_mean - mean) / (s * np.sqrt((n * s1 - 1) / (n - 1)))
    p_analytic = 2 * norm.sf(np.abs(z))
    table = table_for(prepared, permutations, seed)
    greater, less = count_extreme(table, x, k, neighbour_sum)
    p_perm = p_values(greater, less, table.permutations, direction)
    p_perm[k == 0] = np.nan
    p_analytic[k == 0] = np.nan
    p = p_analytic if inference == "analytic" else p_perm
    # direction of a spot: the neighbourhood above or below what the other areas would give
    expected = (x + k * (total - x) / (n - 1)) / (k + 1)
    bins = confidence_bins(p, np.where(inference == "analytic", z, local_mean - expected))
    frame = expand(prepared, weights.ids, {
        "value": x, "g_star": g_star, "z": z, "p_analytic": p_analytic, "p_permutation": p_perm,
        "p_value": p, "bin": bins, "spot": np.array([BIN_LABELS[b] for b in bins], dtype=object),
        "neighbours": k,
    }, label_column="spot")
    frame["bin"] = frame["bin"].fillna(0).astype(int)
    frame.attrs.update({"statistic": "Getis-Ord Gi*", "inference": inference, "permutations": table.permutations,
                        "seed": seed, "direction": direction})
    return frame
