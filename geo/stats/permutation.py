"""Conditional permutation inference for local statistics, with a shared lookup table.

Conditional randomisation (Anselin 1995) holds an area's own value fixed and draws its k
neighbours' values at random from the other n - 1 areas, many times, to see how unusual the
observed neighbourhood is. With row-standardised binary weights every local statistic here
depends on the draw only through the *sum* of the k drawn values, so:

1. one table of ``permutations`` random samples of ``k_max + 1`` distinct areas is drawn, as in
   GeoDa's "lookup-table" method, and shared by all areas;
2. for each neighbour count k, the sums of the first k sampled values form the reference
   distribution, sorted once, so each area's count of draws at least as extreme is a binary
   search;
3. where an area's own index appears among its first k draws (so the draw would not be from the
   *other* areas), the draw uses the next sampled area instead, and that area's counts are
   corrected exactly.

The result is exact conditional randomisation in distribution for each area, with the draws
shared between areas (so p-values of areas with the same neighbour count are not independent,
as in GeoDa). A seed makes the same inputs give the same p-values.

``p_values`` turns counts into pseudo p-values for a stated direction (the *p-value convention*):

``folded`` (default)     GeoDa's and esda's: (draws as or more extreme in the direction of the
                          observed + 1) / (permutations + 1), the smaller tail. This is what
                          GeoDa's and esda's cluster and hot-spot maps use, so Gapmap's maps show
                          the same significant areas.
``two-sided``            ``min(1, 2 * folded)``: a two-sided test, stricter (about half as many
                          areas reach a given alpha near the threshold)
``greater`` / ``less``   one-sided, in the stated direction

``normal_p_values`` applies the same conventions to analytic z-scores (folded: the upper tail of
|z|, as esda's ``p_norm``; two-sided: twice that). ``describe_test`` says in words which test
was used, for legends, slides and exports (``attrs["method"]`` of each statistic).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.errors import InvalidValue

DIRECTIONS = ("folded", "two-sided", "greater", "less")
DEFAULT_DIRECTION = "folded"
CONVENTIONS = {
    "folded": "folded (one tail, in the direction observed, as GeoDa and esda compute it)",
    "two-sided": "two-sided (twice the folded p-value)",
    "greater": "one-sided, testing for values above expectation",
    "less": "one-sided, testing for values below expectation",
}
MAX_PERMUTATIONS = 99_999


@dataclass
class PermutationTable:
    samples: np.ndarray  # (permutations, k_max + 1) indices of distinct areas per draw
    n: int

    @property
    def permutations(self) -> int:
        return self.samples.shape[0]


def draw_table(n: int, k_max: int, permutations: int = 999, seed: int | None = 12345) -> PermutationTable:
    """``permutations`` rows of ``k_max + 1`` distinct area indices, uniformly at random."""
    if not 1 <= permutations <= MAX_PERMUTATIONS:
        raise InvalidValue(f"permutations must be between 1 and {MAX_PERMUTATIONS:,}")
    width = min(k_max + 1, n - 1)
    if width < 1:
        raise InvalidValue("permutation inference needs at least two areas")
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(permutations, width))
    while True:  # redraw the (rare) rows that picked an area twice
        ordered = np.sort(samples, axis=1)
        repeated = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if not len(repeated):
            break
        samples[repeated] = np.array([rng.choice(n, size=width, replace=False) for _ in repeated])
    return PermutationTable(samples, n)


def count_extreme(table: PermutationTable, values: np.ndarray, cardinality: np.ndarray,
                  observed_sum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each area i: how many draws give a neighbour-value sum >= and <= the observed one.

    ``values`` are the values being permuted (the neighbours' variable), ``cardinality`` each
    area's neighbour count and ``observed_sum`` the sum of its actual neighbours' values. Draws
    for area i never include i itself (see the module docstring).
    """
    values = np.asarray(values, dtype=float)
    n, perms = table.n, table.permutations
    k_i = np.asarray(cardinality)
    width = table.samples.shape[1]
    if k_i.max(initial=0) >= width + 1:
        raise InvalidValue("the permutation table is narrower than the largest neighbour count")
    drawn = values[table.samples]  # (perms, width)
    sums = np.cumsum(drawn, axis=1)  # sums[:, k-1] = sum of first k
    greater = np.zeros(n, dtype=np.int64)
    less = np.zeros(n, dtype=np.int64)
    # tolerance for sums that equal the observed one but were added in another order
    tol = 1e-9 * (np.abs(observed_sum) + 1.0)
    for k in np.unique(k_i[k_i > 0]):
        members = np.flatnonzero(k_i == k)
        ref = np.sort(sums[:, k - 1])
        greater[members] = perms - np.searchsorted(ref, observed_sum[members] - tol[members], side="left")
        less[members] = np.searchsorted(ref, observed_sum[members] + tol[members], side="right")
    # draws that picked area i among its own first k: replace i by the next sampled area
    perm_idx, pos = np.divmod(np.arange(table.samples.size), width)
    area = table.samples.ravel()
    hit = pos < k_i[area]
    p, i = perm_idx[hit], area[hit]
    k = k_i[i]
    wrong = sums[p, k - 1]
    inside = k < width
    replacement = np.empty(len(p))
    replacement[inside] = drawn[p[inside], k[inside]]
    for n_, (pp, ii) in enumerate(zip(p[~inside], i[~inside])):  # only when a draw is exhausted (tiny n)
        replacement[np.flatnonzero(~inside)[n_]] = values[_other(table, pp, ii)]
    right = wrong - values[i] + replacement
    lo, hi = observed_sum[i] - tol[i], observed_sum[i] + tol[i]
    np.add.at(greater, i, (right >= lo).astype(np.int64) - (wrong >= lo).astype(np.int64))
    np.add.at(less, i, (right <= hi).astype(np.int64) - (wrong <= hi).astype(np.int64))
    return greater, less


def _other(table: PermutationTable, p: int, i: int) -> int:
    """An area not in draw p and not i (used only when a draw is exhausted)."""
    taken = set(table.samples[p].tolist()) | {i}
    rng = np.random.default_rng(p * 1_000_003 + i)
    while True:
        j = int(rng.integers(0, table.n))
        if j not in taken:
            return j


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise InvalidValue(f"unknown test direction {direction!r}; choose one of {', '.join(DIRECTIONS)}")
    return direction


def describe_test(direction: str, inference: str = "permutation", permutations: int | None = None,
                  alpha: float | None = None, fdr: bool = False) -> str:
    """The test used, in words: what a legend, slide or export prints beside the map."""
    check_direction(direction)
    count = f" ({permutations:,} permutations)" if permutations else ""
    how = (f"conditional permutation pseudo p-values{count}" if inference == "permutation"
           else "normal (analytic) p-values of the z-score")
    text = f"{how}, {CONVENTIONS[direction]}"
    if alpha is not None:
        text += (f"; significant where the false discovery rate (Benjamini-Hochberg) is at most {alpha:g}" if fdr
                 else f"; significant where p <= {alpha:g}")
    elif fdr:
        text += "; each confidence level with false discovery rate control (Benjamini-Hochberg)"
    return text


def normal_p_values(z: np.ndarray, direction: str = DEFAULT_DIRECTION) -> np.ndarray:
    """p-values of z-scores under the normal distribution, in the stated convention."""
    from scipy.stats import norm

    check_direction(direction)
    z = np.asarray(z, dtype=float)
    if direction == "greater":
        return norm.sf(z)
    if direction == "less":
        return norm.cdf(z)
    folded = norm.sf(np.abs(z))
    return np.minimum(1.0, 2 * folded) if direction == "two-sided" else folded


def p_values(greater: np.ndarray, less: np.ndarray, permutations: int,
             direction: str = DEFAULT_DIRECTION) -> np.ndarray:
    """Pseudo p-values from the counts of draws whose statistic is >= (``greater``) and <=
    (``less``) the observed one."""
    check_direction(direction)
    denominator = permutations + 1.0
    if direction == "greater":
        return (greater + 1) / denominator
    if direction == "less":
        return (less + 1) / denominator
    p = (np.minimum(greater, less) + 1) / denominator
    return np.minimum(1.0, 2 * p) if direction == "two-sided" else p


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """True where the Benjamini-Hochberg procedure rejects at false discovery rate ``alpha``:
    every p-value up to the largest p(k) with p(k) <= k * alpha / m."""
    p = np.asarray(p, dtype=float)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    out = np.zeros(len(p), dtype=bool)
    if m == 0:
        return out
    ordered = np.sort(p[ok])
    below = ordered <= alpha * np.arange(1, m + 1) / m
    if below.any():
        cutoff = ordered[np.flatnonzero(below).max()]
        out[ok] = p[ok] <= cutoff
    return out
