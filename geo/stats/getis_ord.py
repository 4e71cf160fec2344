"""Getis-Ord Gi* hot and cold spots (Getis and Ord 1992; Ord and Getis 1995).

With row-standardised weights that include the area itself (each of i and its k neighbours
weighs 1 / (k + 1)), as GeoDa's Gi*:

    G*_i = sum_j w_ij x_j / sum_j x_j

Analytic inference (Ord and Getis 1995, eq. 14, with W_i = sum_j w_ij = 1 and
S1_i = sum_j w_ij^2 = 1 / (k + 1)):

    z_i = (sum_j w_ij x_j - mean(x)) / (s * sqrt((n * S1_i - 1) / (n - 1))),
    s = sqrt(sum x^2 / n - mean(x)^2)

and its normal p-value. Permutation inference holds x_i fixed and draws the neighbours'
values from the other areas (:mod:`geo.stats.permutation`). Both p-values follow the stated p-value
convention (``direction``): folded by default, as GeoDa's and esda's hot-spot maps (esda's
``p_norm`` and ``p_sim``), or two-sided, greater or less.

Significance: the confidence levels are **two-sided**, as ArcGIS's Hot Spot Analysis defines its
Gi_Bin ("Features in the +/-3 bins reflect statistical significance with a 99 percent confidence
level; features in the +/-2 bins reflect a 95 percent confidence level; features in the +/-1 bins
reflect a 90 percent confidence level", ArcGIS Pro, *Hot Spot Analysis (Getis-Ord Gi*)*,
https://pro.arcgis.com/en/pro-app/tool-reference/spatial-statistics/hot-spot-analysis.htm,
with its two-sided p-values of the z-score): an area is a hot or cold spot at 90%, 95% or 99%
confidence where its two-sided p-value is at most 0.10, 0.05 or 0.01, that is (analytic z) where
|z| >= 1.645, 1.960 or 2.576 (``norm.ppf(1 - p / 2)``). The two-sided p-value is
``p_two_sided`` = min(1, 2 x the folded p-value), whatever the p-value convention of the printed
p-values (folded by default, as esda's ``p_norm``; the folded one-tail levels |z| >= 1.282 /
1.645 / 2.326 would grade more areas, and higher, than ArcGIS does). Only with ``direction``
``greater`` or ``less``, a one-sided test asked for, are the levels one-sided (p <= 0.10 / 0.05 /
0.01 of that test), and the method says so. With ``fdr`` each level is instead tested with the
Benjamini-Hochberg false discovery rate at 0.10, 0.05 and 0.01 on those two-sided p-values (as
ArcGIS's FDR correction, which the same page says sets the bins when it is applied). With
``alpha`` (0.05, 0.01 or 0.001) only spots significant at alpha (with ``fdr``: FDR at alpha) on
the same p-values are kept; the levels stricter than alpha still grade them. Local Moran and the
bivariate clusters keep the folded convention (GeoDa's).

Output columns:

``value``          the input value
``g_star``         G*_i
``z``              the analytic z-score
``p_analytic``     p-value of z (normal), in the stated convention
``p_permutation``  pseudo p-value by conditional permutation (in the stated direction)
``p_value``        the p-value of the chosen inference, in the stated convention
``p_two_sided``    the p-value the confidence levels test: two-sided (twice the folded p of the
                   chosen inference, at most 1), or one-sided under ``greater`` / ``less``
``bin``            -3..3: 3 hot spot at 99% confidence (two-sided p <= 0.01: |z| >= 2.576),
                   2 at 95% (|z| >= 1.960), 1 at 90% (|z| >= 1.645),
                   0 not significant, -1..-3 cold spots likewise; 9 no data (no value), 8 no
                   neighbours with data (no test possible)
``significant``    True for a hot or cold spot (bin -3..-1 or 1..3)
``spot``           the bin in words ("Hot spot, 99% confidence", ..., "Not significant", "No data")
``neighbours``     the number of neighbours with a value

``attrs``: ``statistic``, ``inference``, ``permutations``, ``seed``, ``direction`` and
``p_value_convention`` (the same: folded, two-sided, greater or less), ``levels`` (the
confidence levels in words: two-sided unless a one-sided test was asked for), ``alpha``,
``fdr`` and ``method``, the test in words for legends, slides and exports (it says that the
levels are two-sided).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InvalidValue
from geo.stats.local_statistics import ALPHAS, expand, prepare, table_for
from geo.stats.permutation import (DEFAULT_DIRECTION, benjamini_hochberg, count_extreme, describe_test, normal_p_values,
                             p_values)
from geo.stats.weights import Weights

INFERENCE = ("analytic", "permutation")
BIN_LABELS = {3: "Hot spot, 99% confidence", 2: "Hot spot, 95% confidence", 1: "Hot spot, 90% confidence",
              0: "Not significant", -1: "Cold spot, 90% confidence", -2: "Cold spot, 95% confidence",
              -3: "Cold spot, 99% confidence", 9: "No data", 8: "No neighbours with data"}
NO_DATA_BIN = 9
NO_NEIGHBOURS_BIN = 8
LEVELS = ((0.10, 1), (0.05, 2), (0.01, 3))  # (two-sided p threshold, bin), loosest first
TWO_SIDED_LEVELS = ("confidence levels two-sided, as ArcGIS's Hot Spot Analysis: 90%, 95%, 99% where the two-sided "
                    "p <= 0.10, 0.05, 0.01 (|z| >= 1.645, 1.960, 2.576)")
ONE_SIDED_LEVELS = "confidence levels one-sided, as the one-sided test asked for: 90%, 95%, 99% where p <= 0.10, 0.05, 0.01"


def level_p_values(p: np.ndarray, direction: str) -> np.ndarray:
    """The p-values the confidence levels test: two-sided for the folded and two-sided
    conventions (min(1, 2 x folded); a two-sided p passes through), the one-sided p itself for
    ``greater`` / ``less``."""
    p = np.asarray(p, dtype=float)
    return np.minimum(1.0, 2 * p) if direction == "folded" else p


def confidence_bins(p: np.ndarray, sign: np.ndarray, alpha: float | None = None, fdr: bool = False) -> np.ndarray:
    """-3..3 by the confidence level each p-value reaches (see the module docstring); areas with
    no p-value get 0 here (the caller marks them)."""
    p = np.asarray(p, dtype=float)
    levels = LEVELS if alpha is None else tuple((t, b) for t, b in LEVELS if t <= alpha) or ((alpha, 3),)
    level = np.zeros(len(p), dtype=int)
    tested = np.where(np.isnan(p), np.inf, p)
    for threshold, code in levels:  # loosest first, so the strictest level reached wins
        passes = benjamini_hochberg(p, threshold) if fdr else tested <= threshold
        level = np.where(passes, code, level)
    if alpha is not None:  # only what is significant at alpha itself
        keep = benjamini_hochberg(p, alpha) if fdr else tested <= alpha
        level = np.where(keep, level, 0)
    direction = np.nan_to_num(np.sign(np.asarray(sign, dtype=float)))  # no z (no variance): no direction
    return np.where(np.isnan(p), 0, level * direction).astype(int)


def getis_ord(values, weights: Weights, inference: str = "analytic", permutations: int = 999,
              seed: int | None = 12345, direction: str = DEFAULT_DIRECTION, alpha: float | None = None,
              fdr: bool = False) -> pd.DataFrame:
    if inference not in INFERENCE:
        raise InvalidValue(f"inference must be one of {', '.join(INFERENCE)}")
    if alpha is not None and alpha not in ALPHAS:
        raise InvalidValue(f"alpha must be one of {', '.join(map(str, ALPHAS))} (or none: the 90/95/99% levels)")
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
    p_analytic = normal_p_values(z, direction)
    table = table_for(prepared, permutations, seed)
    greater, less = count_extreme(table, x, k, neighbour_sum)
    p_perm = p_values(greater, less, table.permutations, direction)
    p_perm[k == 0] = np.nan
    p_analytic[k == 0] = np.nan
    p = p_analytic if inference == "analytic" else p_perm
    levels = ONE_SIDED_LEVELS if direction in ("greater", "less") else TWO_SIDED_LEVELS  # in words
    # direction of a spot: the neighbourhood above or below what the other areas would give
    expected = (x + k * (total - x) / (n - 1)) / (k + 1)
    p_levels = level_p_values(p, direction)
    bins = confidence_bins(p_levels, np.where(inference == "analytic", z, local_mean - expected), alpha, fdr)
    bins = np.where(k == 0, NO_NEIGHBOURS_BIN, bins)
    frame = expand(prepared, weights.ids, {
        "value": x, "g_star": g_star, "z": z, "p_analytic": p_analytic, "p_permutation": p_perm,
        "p_value": p, "p_two_sided": p_levels, "bin": bins, "significant": (bins != 0) & (np.abs(bins) <= 3),
        "spot": np.array([BIN_LABELS[b] for b in bins], dtype=object), "neighbours": k,
    }, label_column="spot")
    frame["bin"] = frame["bin"].fillna(NO_DATA_BIN).astype(int)
    frame.attrs.update({"statistic": "Getis-Ord Gi*", "inference": inference, "permutations": table.permutations,
                        "seed": seed, "direction": direction, "p_value_convention": direction, "alpha": alpha,
                        "fdr": fdr, "bin_labels": dict(BIN_LABELS), "levels": levels,
                        "method": method(direction, inference, table.permutations, alpha, fdr)})
    return frame


def method(direction: str, inference: str, permutations: int, alpha: float | None, fdr: bool) -> str:
    """The test in words: the p-values printed, the confidence levels and what alpha and the FDR
    apply to (the two-sided p, or the one-sided test's)."""
    one_sided = direction in ("greater", "less")
    which = "one-sided" if one_sided else "two-sided"
    text = "Getis-Ord Gi*: " + describe_test(direction, inference, permutations) + "; "
    text += ONE_SIDED_LEVELS if one_sided else TWO_SIDED_LEVELS
    if alpha is not None:
        text += (f"; significant where the false discovery rate (Benjamini-Hochberg) of the {which} p is at most "
                 f"{alpha:g}" if fdr else f"; significant where the {which} p <= {alpha:g}")
    elif fdr:
        text += f"; each confidence level with false discovery rate control (Benjamini-Hochberg) on the {which} p"
    return text
