"""Directly and indirectly standardised rates by PHE's methods.

Directly standardised rate (DSR), per ``multiplier``, with a standard population (by default the
European Standard Population 2013, 5-year bands 0-4 .. 85-89 and 90+):

    DSR = sum_i w_i x_i / n_i / sum_i w_i * multiplier

and Dobson's confidence interval, which scales the Poisson limits of the total count O
(Byar's, or exact under 10) by the DSR's variance:

    DSR_L = DSR + sqrt(var / O) * (O_L - O),   var = sum_i w_i^2 x_i / n_i^2 / (sum_i w_i)^2 * multiplier^2

PHE does not publish a DSR from fewer than 10 events: the value and limits are missing then.

Non-independent events (``dsr_non_independent``; PHEindicatormethods ``calculate_dsr`` with
``independent_events = FALSE``, Fingertips technical guidance, DSR chapter): where one person can
have several events (repeat attenders), the counts are given as people per age band and event
frequency f (people with exactly f events). The DSR is that of the events (f times the people);
its variance is the sum over f of f^2 times the DSR variance of the people with f events, which
widens the Dobson limits.

Indirectly standardised ratio (ISR): observed O over expected E = sum_i n_i R_i / P_i from a
reference population's counts R_i and populations P_i; limits are O's Poisson limits over E.
The indirectly standardised rate is the ratio times the reference rate sum R / sum P.
"""
from __future__ import annotations

import numpy as np

from geo.errors import InvalidValue
from geo.rates.standard_population import ESP2013
from geo.rates.confidence_intervals import poisson_limits

MIN_COUNT_DSR = 10


def _check(counts, populations, standard=None, zero_population_ok: bool = False):
    x = np.nan_to_num(np.asarray(counts, dtype=float), nan=0.0)  # a band with no count had no events, as in PHE's
    n = np.asarray(populations, dtype=float)
    if x.shape != n.shape:
        raise InvalidValue("counts and populations must have one value per age band each")
    if (x < 0).any():
        raise InvalidValue("counts must be whole numbers of 0 or more")
    if (n < 0).any() or np.isnan(n).any() or (not zero_population_ok and (n == 0).any()):
        raise InvalidValue("every age band needs a population above 0")
    if standard is not None:
        w = np.asarray(standard, dtype=float)
        if w.shape != x.shape:
            raise InvalidValue(f"the standard population has {len(w)} bands, the data {len(x)}")
        if (w < 0).any():
            raise InvalidValue("standard population weights must not be negative")
        return x, n, w
    return x, n, None


def _dobson(value: float, variance: float, total: float, total_pop: float, confidence: float, note: str) -> dict:
    """A DSR with Dobson's limits: the exact Poisson limits of the total count, scaled to the DSR by
    its variance; not shown under :data:`MIN_COUNT_DSR` events."""
    if total < MIN_COUNT_DSR:
        return {"value": np.nan, "lower": np.nan, "upper": np.nan, "total_count": total,
                "total_pop": total_pop, "note": f"not shown: fewer than {MIN_COUNT_DSR} events"}
    lower_o, upper_o, _ = poisson_limits(np.array([total]), confidence)
    scale = np.sqrt(variance / total)
    return {"value": value, "lower": float(value + scale * (lower_o[0] - total)),
            "upper": float(value + scale * (upper_o[0] - total)), "total_count": total,
            "total_pop": total_pop, "note": note}


def dsr(counts, populations, standard=ESP2013, multiplier: float = 100_000, confidence: float = 0.95) -> dict:
    """DSR of one area from its counts and populations by age band (in the standard's order)."""
    x, n, w = _check(counts, populations, standard)
    total = x.sum()
    value = float((w * x / n).sum() / w.sum() * multiplier)
    variance = float((w ** 2 * x / n ** 2).sum() / w.sum() ** 2 * multiplier ** 2)
    return _dobson(value, variance, total, float(n.sum()), confidence, "Dobson")


def dsr_many(counts, populations, standard=ESP2013, multiplier: float = 100_000, confidence: float = 0.95) -> dict:
    """DSRs of many areas at once: ``counts`` and ``populations`` are (areas, bands) arrays.

    The same as :func:`dsr` row by row, except that a band with no population in an area (and no
    events) is left out of that area's DSR, standard weights included; an area with events in a
    band of no population gets no DSR. Returns arrays ``value``, ``lower``, ``upper``,
    ``total_count``, ``bands_left_out``.
    """
    x = np.nan_to_num(np.atleast_2d(np.asarray(counts, dtype=float)), nan=0.0)
    n = np.nan_to_num(np.atleast_2d(np.asarray(populations, dtype=float)), nan=0.0)
    w = np.asarray(standard, dtype=float)
    if x.shape != n.shape or x.shape[1] != len(w):
        raise InvalidValue("counts, populations and the standard must have one value per age band")
    if (x < 0).any() or (n < 0).any() or (w < 0).any():
        raise InvalidValue("counts, populations and weights must not be negative")
    used = n > 0
    impossible = ((~used) & (x > 0)).any(axis=1)
    safe_n = np.where(used, n, 1.0)
    weight_sum = (w * used).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (w * x / safe_n * used).sum(axis=1) / weight_sum * multiplier
        variance = (w ** 2 * x / safe_n ** 2 * used).sum(axis=1) / weight_sum ** 2 * multiplier ** 2
    total = x.sum(axis=1)
    lower_o, upper_o, _ = poisson_limits(total, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.sqrt(variance / total)
    hide = (total < MIN_COUNT_DSR) | impossible | (weight_sum <= 0)
    nan = np.full(len(total), np.nan)
    return {"value": np.where(hide, nan, value), "lower": np.where(hide, nan, value + scale * (lower_o - total)),
            "upper": np.where(hide, nan, value + scale * (upper_o - total)), "total_count": total,
            "bands_left_out": (~used).sum(axis=1)}


def dsr_non_independent(people_by_frequency, populations, standard=ESP2013, multiplier: float = 100_000,
                        confidence: float = 0.95) -> dict:
    """DSR with confidence limits for non-independent events, by PHE's method.

    ``people_by_frequency``: a mapping {f: people per age band} (or a 2-D array, one column per
    frequency 1, 2, 3, ...), people who had exactly f events; ``populations`` per age band.
    """
    if isinstance(people_by_frequency, dict):
        freqs = np.array(sorted(people_by_frequency), dtype=float)
        people = np.stack([np.nan_to_num(np.asarray(people_by_frequency[f], dtype=float)) for f in sorted(people_by_frequency)],
                          axis=1)
    else:
        people = np.nan_to_num(np.asarray(people_by_frequency, dtype=float))
        freqs = np.arange(1, people.shape[1] + 1, dtype=float)
    if (freqs < 1).any():
        raise InvalidValue("event frequencies must be 1 or more")
    events = people @ freqs
    x, n, w = _check(events, populations, standard)
    if (people < 0).any():
        raise InvalidValue("numbers of people must be 0 or more")
    total = x.sum()
    value = float((w * x / n).sum() / w.sum() * multiplier)
    variance = float(sum(f ** 2 * (w ** 2 * people[:, j] / n ** 2).sum() for j, f in enumerate(freqs))
                     / w.sum() ** 2 * multiplier ** 2)
    method = "Dobson, with confidence adjusted for non-independent events"
    return _dobson(value, variance, total, float(n.sum()), confidence, method)


def isr(counts, populations, reference_counts, reference_populations, multiplier: float = 1,
        confidence: float = 0.95, as_rate: bool = False) -> dict:
    """Indirectly standardised ratio (or, with ``as_rate``, rate per ``multiplier``)."""
    # a band missing from the data (no count, no population) contributes nothing, as in PHE's
    x, n, _ = _check(counts, np.nan_to_num(np.asarray(populations, dtype=float)), zero_population_ok=True)
    r = np.nan_to_num(np.asarray(reference_counts, dtype=float))
    p = np.asarray(reference_populations, dtype=float)
    if r.shape != x.shape or p.shape != x.shape or (p <= 0).any() or (r < 0).any():
        raise InvalidValue("reference counts and populations must match the age bands, populations above 0")
    observed = x.sum()
    expected = float((n * r / p).sum())
    lower_o, upper_o, method = poisson_limits(np.array([observed]), confidence)
    scale = r.sum() / p.sum() * multiplier if as_rate else multiplier
    return {"observed": observed, "expected": expected, "value": observed / expected * scale,
            "lower": float(lower_o[0] / expected * scale), "upper": float(upper_o[0] / expected * scale),
            "reference_rate": float(r.sum() / p.sum() * multiplier) if as_rate else np.nan, "method": str(method[0])}
