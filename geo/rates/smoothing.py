"""Empirical Bayes smoothed rates, for rare events in small areas (Marshall 1991), as GeoDa offers.

A crude rate over a small population is noisy: an LSOA with 1,500 residents and one admission a
year has a rate of 67 per 100,000, the next with none has 0. The empirical Bayes estimate shrinks
each area's rate r_i = e_i / b_i towards a prior mean m, by a weight that is larger where the
population is larger (Marshall, "Mapping disease and mortality rates using empirical Bayes
estimators", Applied Statistics 40, 1991; Anselin, Lozano-Gracia and Koschinsky, "Rate
transformations and smoothing", GeoDa Center, 2006; the same formulas as PySAL esda's
``Empirical_Bayes`` and ``Spatial_Empirical_Bayes``):

    m   = sum(e) / sum(b)                                   (the prior mean)
    s2  = sum(b_i (r_i - m)^2) / sum(b)                      (the rates' weighted variance)
    a   = max(0, s2 - m / (sum(b) / n))                      (the variance between areas)
    w_i = a / (a + m / b_i)
    smoothed_i = w_i r_i + (1 - w_i) m

:func:`empirical_bayes` uses one prior over all areas (global EB); :func:`spatial_empirical_bayes`
takes each area's prior from its neighbourhood (the area and its neighbours: m_i, s2_i and the
mean population of the neighbourhood in place of the global ones: spatial EB, GeoDa's "Spatial
Empirical Bayes").

*Areas with no usable count* (``known`` False) take no part in any prior, and their smoothed
value is the prior of their neighbourhood alone (spatial) or the global prior (global). The map
(:mod:`geo.views.map_table`) passes a count hidden by disclosure control as the middle of the
hidden range (4 of 1-7) instead: leaving it out would pull every prior towards 0, as the zeros
stay in, and the value still says only that the count was hidden.

Inputs are plain arrays (events, populations at risk: person-years for rates per year) and, for
the spatial version, each area's neighbours as index arrays. Outputs are rates per unit of the
denominator (multiply by the indicator's multiplier).
"""
from __future__ import annotations

import numpy as np

from geo.errors import InvalidValue


def _check(events, population, known):
    e = np.asarray(events, dtype=float)
    b = np.asarray(population, dtype=float)
    k = np.ones(len(e), dtype=bool) if known is None else np.asarray(known, dtype=bool)
    if e.shape != b.shape or k.shape != e.shape:
        raise InvalidValue("events, populations and known must have one value per area")
    k = k & np.isfinite(e) & np.isfinite(b) & (b > 0)
    if (e[k] < 0).any():
        raise InvalidValue("events must not be negative")
    return e, b, k


def _shrink(rate, b, m, s2, mean_b):
    a = np.maximum(s2 - m / mean_b, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(a > 0, a / (a + m / b), 0.0)
    return w * rate + (1 - w) * m


def empirical_bayes(events, population, known=None) -> np.ndarray:
    """Global empirical Bayes smoothed rates (see the module docstring); NaN where the area has no
    population. Areas not ``known`` get the global prior mean."""
    e, b, k = _check(events, population, known)
    out = np.full(len(e), np.nan)
    if not k.any():
        return out
    m = e[k].sum() / b[k].sum()
    rate = np.where(k, e / np.where(b > 0, b, 1), np.nan)
    s2 = (b[k] * (rate[k] - m) ** 2).sum() / b[k].sum()
    out[k] = _shrink(rate[k], b[k], m, s2, b[k].sum() / k.sum())
    out[~k & (np.nan_to_num(b) > 0)] = m
    return out


def spatial_empirical_bayes(events, population, neighbours, known=None) -> np.ndarray:
    """Spatial empirical Bayes smoothed rates: each area shrunk towards the rate of its
    neighbourhood (itself and ``neighbours[i]``, an array of area indices). Areas not ``known``
    take no part in any neighbourhood and get their neighbours' prior; NaN where there is none.
    Every neighbourhood's sums come from one sparse product each (England in milliseconds):
    s2_i = (sum b r^2 - 2 m_i sum b r + m_i^2 sum b) / sum b over the neighbourhood."""
    from scipy import sparse

    e, b, k = _check(events, population, known)
    if len(neighbours) != len(e):
        raise InvalidValue("give the neighbours of every area")
    n = len(e)
    lists = [np.asarray(x, dtype=int) for x in neighbours]
    rows = np.repeat(np.arange(n), [len(x) for x in lists])
    cols = np.concatenate(lists) if lists else np.array([], dtype=int)
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    safe_b = np.where(b > 0, b, 1)
    rate = np.where(k, e / safe_b, 0.0)
    bk, ek = np.where(k, b, 0.0), np.where(k, e, 0.0)  # unknown areas take no part

    def hood(x):  # the sum over each area's neighbourhood (itself only when known: x is 0 otherwise)
        return adjacency @ x + x

    sum_b, sum_e, areas = hood(bk), hood(ek), hood(k.astype(float))
    sum_br, sum_br2 = hood(bk * rate), hood(bk * rate ** 2)
    ok = (areas > 0) & (sum_b > 0)
    out = np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = sum_e / sum_b
        s2 = (sum_br2 - 2 * m * sum_br + m ** 2 * sum_b) / sum_b
        shrunk = _shrink(rate, safe_b, m, s2, sum_b / areas)
    out[ok & k] = shrunk[ok & k]
    out[ok & ~k] = m[ok & ~k]
    return out


def eb_standardised(events, population, known=None) -> np.ndarray:
    """Empirical Bayes standardised rates (Assuncao and Reis, "A new proposal to adjust Moran's I for
    population density", Statistics in Medicine 18, 1999; GeoDa's "EB rate" standardisation, esda's
    ``assuncao_rate``): z_i = (r_i - m) / sqrt(v_i), with v_i = a + m / b_i (m and a as in the module
    docstring, a not clipped at 0), or m / b_i where that is negative. Each rate is measured against
    its own sampling noise, so a small area's extreme rate weighs less: the values the hot spots of a
    rare indicator are computed on. NaN where the area is not ``known``."""
    e, b, k = _check(events, population, known)
    out = np.full(len(e), np.nan)
    if not k.any():
        return out
    rate = e[k] / b[k]
    m = e[k].sum() / b[k].sum()
    s2 = (b[k] * (rate - m) ** 2).sum() / b[k].sum()
    a = s2 - m / (b[k].sum() / k.sum())
    v = a + m / b[k]
    v = np.where(v < 0, m / b[k], v)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[k] = np.where(v > 0, (rate - m) / np.sqrt(v), 0.0)
    return out
