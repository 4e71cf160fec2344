"""Confidence intervals by Public Health England's published methods (PHEindicatormethods).

* Counts and crude rates: Byar's approximation to the Poisson interval, and the exact Poisson
  interval (chi-squared) for counts under 10 (``poisson_limits``, ``crude_rate``).
* Proportions: Wilson's score interval (``proportion``).

``confidence`` is a level such as 0.95 or 0.998; every function returns numpy arrays.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import chi2, norm

from geo.errors import InvalidValue

EXACT_BELOW = 10  # PHE: exact Poisson limits for counts under 10, Byar's from 10


def z_value(confidence: float) -> float:
    if not 0.5 < confidence < 1:
        raise InvalidValue("confidence must be between 0.5 and 1 (e.g. 0.95 or 0.998)")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def byars_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximate Poisson limits of a count."""
    x = np.asarray(count, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x > 0, x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3, 0.0)
    upper = (x + 1) * (1 - 1 / (9 * (x + 1)) + z / (3 * np.sqrt(x + 1))) ** 3
    return lower, upper


def exact_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits of a count (chi-squared)."""
    x = np.asarray(count, dtype=float)
    a = 1 - confidence
    lower = np.where(x > 0, chi2.ppf(a / 2, 2 * x) / 2, 0.0)
    upper = chi2.ppf(1 - a / 2, 2 * (x + 1)) / 2
    return lower, upper


def poisson_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, method): exact under 10, Byar's from 10."""
    x = np.asarray(count, dtype=float)
    bl, bu = byars_limits(x, confidence)
    el, eu = exact_limits(x, confidence)
    exact = x < EXACT_BELOW
    return np.where(exact, el, bl), np.where(exact, eu, bu), np.where(exact, "Exact", "Byars")


def crude_rate(count, denominator, multiplier: float = 100_000, confidence: float = 0.95) -> dict:
    """Crude rate per ``multiplier`` with PHE's Poisson limits."""
    x = np.asarray(count, dtype=float)
    n = np.asarray(denominator, dtype=float)
    if (x < 0).any() or (n <= 0).any():
        raise InvalidValue("counts must not be negative and denominators must be positive")
    lower, upper, method = poisson_limits(x, confidence)
    return {"value": x / n * multiplier, "lower": lower / n * multiplier, "upper": upper / n * multiplier,
            "method": method}


def proportion(count, denominator, multiplier: float = 1, confidence: float = 0.95) -> dict:
    """Proportion with Wilson's score interval."""
    x = np.asarray(count, dtype=float)
    n = np.asarray(denominator, dtype=float)
    if (x < 0).any() or (n <= 0).any() or (x > n).any():
        raise InvalidValue("counts must be between 0 and the denominator, denominators positive")
    z = z_value(confidence)
    p = x / n
    centre = 2 * x + z ** 2
    spread = z * np.sqrt(z ** 2 + 4 * x * (1 - p))
    lower = (centre - spread) / (2 * (n + z ** 2))
    upper = (centre + spread) / (2 * (n + z ** 2))
    return {"value": p * multiplier, "lower": lower * multiplier, "upper": upper * multiplier, "method": "Wilson"}
