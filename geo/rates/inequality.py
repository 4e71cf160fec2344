"""Slope and relative indices of inequality, and gaps between deprivation quintiles.

``sii`` follows PHE's ``phe_sii`` (PHEindicatormethods): areas are grouped into deprivation
quantiles (1 = most deprived); each quantile sits at the midpoint of its cumulative population
share (0 = most deprived end, 1 = least); the SII is the slope of a population-weighted least
squares line of the value on that rank, multiplied by ``multiplier``; the RII is the value at the
least deprived end over the value at the most deprived end (inverted for a negative
multiplier). Confidence limits come from ``repetitions`` simulations drawing each quantile's
value from a normal distribution with its standard error (on the log scale for rates, logit for
proportions), taking the percentiles of the simulated slopes.

Standard errors come from ``se`` or from 95% limits: (upper - lower) / (2 * 1.96), after the
log/logit transform for rates (value_type 1) and proportions (value_type 2). With
``transform=True`` the regression itself runs on the log/logit scale and the SII is the
difference of the back-transformed line's ends.

Gapmap's convention (``gapmap_sii``): a positive SII means the most deprived are worse off,
so for measures where higher is worse the multiplier is -1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.errors import InvalidValue

VALUE_TYPES = {0: "normal", 1: "rate", 2: "proportion"}


def midpoint_ranks(population) -> np.ndarray:
    pop = np.asarray(population, dtype=float)
    share = pop / pop.sum()
    return np.cumsum(share) - share / 2


def _forward(v, value_type):
    return np.log(v) if value_type == 1 else np.log(v / (1 - v)) if value_type == 2 else v


def _back(v, value_type):
    return np.exp(v) if value_type == 1 else np.exp(v) / (1 + np.exp(v)) if value_type == 2 else v


def sii(population, value, value_type: int = 0, lower_cl=None, upper_cl=None, se=None, multiplier: float = 1,
        repetitions: int = 100_000, confidence=(0.95,), transform: bool = False, seed: int | None = 1) -> dict:
    """SII and RII of one area's quantile values (ordered quantile 1 = most deprived first).

    Returns sii, rii, intercept and, per confidence level c, ``sii_lower_<c>``, ``sii_upper_<c>``,
    ``rii_lower_<c>``, ``rii_upper_<c>``.
    """
    pop = np.asarray(population, dtype=float)
    v = np.asarray(value, dtype=float)
    if value_type not in VALUE_TYPES:
        raise InvalidValue("value_type must be 0 (normal), 1 (rate) or 2 (proportion)")
    if not 5 <= len(pop) <= 100:
        raise InvalidValue("the SII needs between 5 and 100 quantiles")
    if (pop <= 0).any() or np.isnan(pop).any():
        raise InvalidValue("every quantile needs a population above 0")
    if np.isnan(v).any():
        raise InvalidValue("every quantile needs a value")
    if repetitions < 1000:
        raise InvalidValue("repetitions must be 1,000 or more")
    if value_type == 2 and ((v < 0) | (v > 1)).any():
        raise InvalidValue("proportions must be between 0 and 1")
    if transform and value_type == 0:
        raise InvalidValue("transform applies to rates (1) and proportions (2) only")
    tv = _forward(v, value_type)
    if se is not None:
        s = np.asarray(se, dtype=float)
        if (s < 0).any() or np.isnan(s).any():
            raise InvalidValue("standard errors must be 0 or more")
    else:
        if lower_cl is None or upper_cl is None:
            raise InvalidValue("give either standard errors or lower and upper 95% limits")
        lo, hi = np.asarray(lower_cl, dtype=float), np.asarray(upper_cl, dtype=float)
        if np.isnan(lo).any() or np.isnan(hi).any():
            raise InvalidValue("missing confidence limits")
        if value_type == 2 and (((lo < 0) | (lo > 1)) | ((hi < 0) | (hi > 1))).any():
            raise InvalidValue("confidence limits of proportions must be between 0 and 1")
        s = (_forward(hi, value_type) - _forward(lo, value_type)) / norm.ppf(0.975) / 2
    a = pop / pop.sum()
    b = midpoint_ranks(pop)
    sqrt_a = np.sqrt(a)
    design = np.stack([sqrt_a, b * sqrt_a])  # (2, q)
    solver = np.linalg.solve(design @ design.T, design)  # (2, q): least squares coefficients
    y = tv if transform else v
    intercept, slope = solver @ (sqrt_a * y)
    rng = np.random.default_rng(seed)
    draws = rng.normal(tv[:, None], s[:, None], size=(len(v), repetitions))
    if not transform:
        draws = _back(draws, value_type)
    params = solver @ (draws * sqrt_a[:, None])  # (2, repetitions)
    sim_intercept, sim_slope = params
    out = {}
    if not transform:
        out["sii"] = float(multiplier * slope)
        rii = (intercept + slope) / intercept
        out["rii"] = float(1 / rii if multiplier < 0 else rii)
        out["intercept"] = float(intercept)
        sim_rii = (sim_intercept + sim_slope) / sim_intercept
    else:
        end0, end1 = _back(intercept, value_type), _back(intercept + slope, value_type)
        out["sii"] = float((end1 - end0) * multiplier)
        out["rii"] = float(end0 / end1 if multiplier < 0 else end1 / end0)
        out["intercept"] = float(end0 * abs(multiplier))
        half = intercept + slope / 2
    for c in np.atleast_1d(confidence):
        c = c / 100 if c > 1 else c
        upper_c = c + (1 - c) / 2
        pos_lower = int(round(repetitions * (1 - upper_c))) - 1
        pos_upper = int(round(repetitions * upper_c)) - 1
        key = f"{c * 100:g}"
        slopes = np.sort(sim_slope)
        lo_s, hi_s = slopes[pos_lower], slopes[pos_upper]
        if not transform:
            lo_r, hi_r = np.sort(sim_rii)[[pos_lower, pos_upper]]
            sii_lo, sii_hi = sorted([lo_s * multiplier, hi_s * multiplier])
            rii_lo, rii_hi = (1 / hi_r, 1 / lo_r) if multiplier < 0 else (lo_r, hi_r)
        else:
            ends = []
            for sl in (lo_s, hi_s):
                e0, e1 = _back(half - sl / 2, value_type), _back(half + sl / 2, value_type)
                ends.append(((e1 - e0) * multiplier, (e0 / e1) if multiplier < 0 else (e1 / e0)))
            sii_lo, sii_hi = sorted([ends[0][0], ends[1][0]])
            rii_lo, rii_hi = sorted([ends[0][1], ends[1][1]])
        out.update({f"sii_lower_{key}": float(sii_lo), f"sii_upper_{key}": float(sii_hi),
                    f"rii_lower_{key}": float(rii_lo), f"rii_upper_{key}": float(rii_hi)})
    return out


def gapmap_sii(population, value, higher_is_worse: bool, **kwargs) -> dict:
    """PHE's SII oriented so that a positive SII means the most deprived are worse off."""
    multiplier = kwargs.pop("multiplier", 1)
    return sii(population, value, multiplier=-abs(multiplier) if higher_is_worse else abs(multiplier), **kwargs)


def gap_and_ratio(quintile_values: pd.Series, higher_is_worse: bool = True) -> dict:
    """Most deprived quintile (1) against the least deprived (5): the gap (1 minus 5) and the
    ratio (1 over 5); with ``higher_is_worse`` False the signs are read the other way round in
    ``most_deprived_worse``."""
    most, least = float(quintile_values.loc[1]), float(quintile_values.loc[5])
    gap = most - least
    return {"most_deprived": most, "least_deprived": least, "gap": gap,
            "ratio": most / least if least else np.nan,
            "most_deprived_worse": bool(gap > 0) if higher_is_worse else bool(gap < 0)}
