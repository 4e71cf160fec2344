"""Funnel plots of rates by Public Health England's method (PHEindicatormethods).

Follows ``calculate_funnel_limits`` and ``assign_funnel_significance`` with ``statistic = "rate"``
and ``rate_type = "crude"`` in PHEindicatormethods (UK Health Security Agency,
github.com/ukhsa-collaboration/PHEindicatormethods, ``R/Funnels.R`` and ``R/utils.R``, commit
093fd28 of December 2024):

* the baseline is the comparator's rate ``av = sum(events) / sum(population)``;
* the funnel is traced by number of events E: the population at which E events lie exactly on a
  limit is the exact Poisson limit of E divided by ``av`` (``poisson_funnel``, found by PHE by
  bisection on the Poisson series; here from the chi-squared form of the same exact limits),
  and the limit itself is E over that population, times the multiplier. For the lower 95%
  limit the population is the upper 97.5% exact limit of E over ``av``; for the upper 95%
  limit, the lower 2.5% limit of E; 99.8% limits use 0.1% and 99.9%;
* E runs over PHE's 100 values, spaced geometrically from the axis minimum to the axis maximum
  (``signif.floor``/``signif.ceiling`` of the smallest and largest population times ``av``);
* an area is significantly high at 95% (99.8%) when the baseline lies below the lower 95%
  (99.8%) limit of its own rate, and low when it lies above the upper limit; the limits of an
  area's rate are exact Poisson under 10 events and Byar's from 10 (``funnel_ratio_significance``),
  the same limits as :func:`geo.rates.confidence_intervals.crude_rate`.

Proportions follow PHE's ``phe_funnels`` and ``phe_funnel_significance`` (``statistic =
"proportion"``, PHEindicatormethods ``R/Funnels.R``): around the average proportion
``av = sum(x) / sum(n)``, the limit at denominator n and probability p (0.975 for 95%, 0.999
for 99.8%) is the proportion whose own Wilson score interval at n just reaches av (PHE's
``sigma_adjustment``); the 100 points run
geometrically over the denominators from the axis minimum (0 where the largest denominator is
more than twice the smallest, else its ``signif.floor``) to ``signif.ceiling`` of the largest;
an area is High (Low) when its proportion lies above (below) the limit at its own denominator.

Outputs of :func:`funnel_limits` (one row per E): ``events``, ``population`` (per year of data,
where the 95% lower limit applies), ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998``
(rates per ``multiplier``), the population of each limit (``population_lower_95`` ...) and
``baseline``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import chi2

from geo.errors import InvalidValue
from geo.rates.confidence_intervals import poisson_limits

SIGNIFICANCE = ("High (99.8%)", "High (95%)", "Not significant", "Low (95%)", "Low (99.8%)")


def exact_upper(events, tail: float) -> np.ndarray:
    """The mean at which P(X <= events) = ``tail`` (PHE's ``poisson_funnel(obs, tail, "high")``)."""
    return chi2.ppf(1 - tail, 2 * (np.asarray(events, dtype=float) + 1)) / 2


def exact_lower(events, tail: float) -> np.ndarray:
    """The mean at which P(X >= events) = ``tail`` (PHE's ``poisson_funnel(obs, tail, "low")``)."""
    e = np.asarray(events, dtype=float)
    return np.where(e > 0, chi2.ppf(tail, 2 * e) / 2, 0.0)


def _signif_floor(x: float, down: float = 0.95) -> float:
    if x == 0:
        return 0.0
    n = len(str(int(math.floor(x * down)))) - 1
    return math.floor(x * down / 10 ** n) * 10 ** n


def _signif_ceiling(x: float, up: float = 1.05) -> float:
    if x == 0:
        return 0.0
    n = len(str(int(math.ceil(x * up)))) - 2
    return math.ceil(x * up / 10 ** n) * 10 ** n


def event_grid(min_population: float, max_population: float, average: float, years_of_data: float = 1) -> list[int]:
    """PHE's 100 event counts along the funnel (``first_col`` in ``calculate_funnel_limits``)."""
    if max_population > 2 * min_population:
        axis_min = 0.0
    else:
        axis_min = _signif_floor(min_population / years_of_data) * years_of_data
    axis_max = _signif_ceiling(max_population / years_of_data) * years_of_data
    axis_min, axis_max = math.floor(axis_min * average), math.ceil(axis_max * average)
    grid = [max(1, axis_min)]
    for j in range(2, 101):
        prev = grid[-1]
        step = (axis_max / prev) ** (1 / (101 - j)) * prev
        grid.append(max(int(_r_round(step)), prev + 1))
    return grid


def _r_round(x: float) -> float:
    """R's round(): halves to even (IEC 60559), as numpy does."""
    return float(np.round(x))


def limits_at(events, average: float, multiplier: float = 100_000, years_of_data: float = 1) -> pd.DataFrame:
    """Funnel limits at given event counts for a baseline rate ``average`` (events per person)."""
    e = np.asarray(events, dtype=float)
    out = {"events": e}
    for key, tail in (("95", 0.025), ("998", 0.001)):
        pop_lower = exact_upper(e, tail) / average
        pop_upper = exact_lower(e, tail) / average
        out[f"population_lower_{key}"] = pop_lower / years_of_data
        out[f"lower_{key}"] = e / pop_lower * multiplier
        out[f"population_upper_{key}"] = pop_upper / years_of_data
        with np.errstate(divide="ignore"):
            out[f"upper_{key}"] = np.where(pop_upper > 0, e / np.where(pop_upper > 0, pop_upper, 1) * multiplier,
                                           np.inf)
    frame = pd.DataFrame(out)
    frame["baseline"] = average * multiplier
    return frame


def funnel_limits(counts, populations, multiplier: float = 100_000, years_of_data: float = 1) -> pd.DataFrame:
    """PHE's funnel limits (100 rows) for areas with ``counts`` events among ``populations``."""
    x = np.asarray(counts, dtype=float)
    n = np.asarray(populations, dtype=float)
    if len(x) == 0 or (n <= 0).any() or np.isnan(n).any() or np.isnan(x).any() or (x < 0).any():
        raise InvalidValue("a funnel plot needs every area's count (0 or more) and population (above 0)")
    average = x.sum() / n.sum()
    if average <= 0:
        raise InvalidValue("a funnel plot needs at least one event")
    return limits_at(event_grid(n.min(), n.max(), average, years_of_data), average, multiplier, years_of_data)


def significance(lower_95, upper_95, lower_998, upper_998, baseline) -> list[str]:
    """PHE's funnel significance of areas from their own rate limits (at 95% and 99.8%) and the
    baseline rate, all per the same multiplier. Missing limits (suppressed) give ``None``."""
    out = []
    for l95, u95, l998, u998 in zip(lower_95, upper_95, lower_998, upper_998):
        if any(v is None or v != v for v in (l95, u95, l998, u998)):
            out.append(None)
        elif baseline < l998:
            out.append(SIGNIFICANCE[0])
        elif baseline < l95:
            out.append(SIGNIFICANCE[1])
        elif baseline > u998:
            out.append(SIGNIFICANCE[4])
        elif baseline > u95:
            out.append(SIGNIFICANCE[3])
        else:
            out.append(SIGNIFICANCE[2])
    return out


def rate_limits(count, population, multiplier: float, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """An area's own rate limits as PHE's funnel significance uses them (exact under 10, Byar's from 10)."""
    lower, upper, _ = poisson_limits(count, confidence)
    n = np.asarray(population, dtype=float)
    return lower / n * multiplier, upper / n * multiplier


def sigma_adjustment(p: float, population, average: float, side: str, multiplier: float = 100) -> np.ndarray:
    """PHE's limit of the average proportion ``average`` at denominator ``population`` for
    probability ``p`` (0.975 or 0.999), per ``multiplier``: the proportion whose Wilson interval
    at that denominator has ``average`` as its upper (side "low") or lower (side "high") limit."""
    from scipy.stats import norm

    z2 = norm.ppf(p) ** 2
    n = np.asarray(population, dtype=float)
    a = average
    first = a * (n / z2 + 1)
    adj = np.sqrt((-8 * a * (n / z2 + 1)) ** 2 - 64 * (1 / z2 + 1 / n) * a * (n * (a * (n / z2 + 2) - 1)
                                                                              + z2 * (a - 1)))
    last = 1 / z2 + 1 / n
    value = (first - adj / 8) / last if side == "low" else (first + adj / 8) / last
    return value / n * multiplier


def proportion_limits(min_denominator: float, max_denominator: float, average: float,
                      multiplier: float = 100) -> pd.DataFrame:
    """PHE's 100-point funnel of a proportion: ``population`` (the denominator), ``lower_95``,
    ``upper_95``, ``lower_998``, ``upper_998`` (per ``multiplier``, clipped to 0 and 100%) and
    ``baseline``."""
    if not 0 < average < 1:
        raise InvalidValue("a proportion funnel needs an average proportion between 0 and 1")
    axis_min = 0.0 if max_denominator > 2 * min_denominator else _signif_floor(min_denominator)
    axis_max = _signif_ceiling(max_denominator)
    n = [max(1.0, axis_min)]
    for j in range(2, 101):
        prev = n[-1]
        n.append(max(_r_round((axis_max / prev) ** (1 / (101 - j)) * prev), prev + 1))
    n = np.asarray(n)
    top = multiplier
    frame = pd.DataFrame({
        "population": n,
        "lower_95": np.maximum(0, sigma_adjustment(0.975, n, average, "low", multiplier)),
        "upper_95": np.minimum(top, sigma_adjustment(0.975, n, average, "high", multiplier)),
        "lower_998": np.maximum(0, sigma_adjustment(0.999, n, average, "low", multiplier)),
        "upper_998": np.minimum(top, sigma_adjustment(0.999, n, average, "high", multiplier)),
    })
    frame["baseline"] = average * multiplier
    for column in ("population_lower_95", "population_upper_95", "population_lower_998", "population_upper_998"):
        frame[column] = n  # the limits of a proportion are traced along the denominator itself
    return frame


def proportion_significance(counts, denominators, average: float) -> list[str | None]:
    """PHE's funnel significance of each area's proportion against the limits at its own
    denominator; missing (suppressed) counts give ``None``."""
    x = np.asarray(counts, dtype=float)
    n = np.asarray(denominators, dtype=float)
    out = []
    for xi, ni in zip(x, n):
        if np.isnan(xi) or np.isnan(ni) or ni <= 0:
            out.append(None)
            continue
        value = xi / ni
        if value < sigma_adjustment(0.999, ni, average, "low", 1):
            out.append(SIGNIFICANCE[4])
        elif value < sigma_adjustment(0.975, ni, average, "low", 1):
            out.append(SIGNIFICANCE[3])
        elif value > sigma_adjustment(0.999, ni, average, "high", 1):
            out.append(SIGNIFICANCE[0])
        elif value > sigma_adjustment(0.975, ni, average, "high", 1):
            out.append(SIGNIFICANCE[1])
        else:
            out.append(SIGNIFICANCE[2])
    return out
