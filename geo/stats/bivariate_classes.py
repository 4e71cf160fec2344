"""Bivariate classes: each LSOA in a 3 x 3 (or 4 x 4) grid of deprivation against activity.

Each measure is cut into n classes and an LSOA's class is ``"d-a"``: d for deprivation, a for
activity, 1 = low .. n = high, so ``"3-3"`` is high deprivation with high activity. Deprivation
is always oriented so that n = most deprived: a decile or rank (1 = most deprived) is reversed
before cutting. Missing values get no class.

A continuous measure is cut at its quantiles (mapclassify ``Quantiles``). A discrete measure
(deciles, quintiles: whole values, at most 20 distinct) cannot be cut inside a value, so quantile
breaks on it give very uneven classes; its classes are instead formed from whole values, each
class a run of neighbouring values, choosing among all such groupings the one whose class sizes
are as even as possible (least sum of squared differences from n-ths of the LSOAs; of equally even
groupings, the first from the low end). The legend
text of each class (``deprivation_labels``, ``activity_labels``) says which values it holds,
e.g. "deciles 1-3"; ``deprivation_values`` / ``activity_values`` list them.

Colour schemes are Joshua Stevens' ("Bivariate Choropleth Maps: A How-to Guide", 2015), keyed
``"d-a"``. The default, ``pink-blue``, is the ICB's convention: deprivation in purple, activity
in teal, both high dark blue. For 4 x 4 grids the colours are made the way Stevens makes his,
by multiply-blending a single-hue ramp for each measure.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import combinations

import mapclassify
import numpy as np
import pandas as pd

from geo.errors import InvalidValue

STEVENS_3X3 = {  # "deprivation-activity": colour
    "pink-blue": {"1-1": "#e8e8e8", "1-2": "#ace4e4", "1-3": "#5ac8c8", "2-1": "#dfb0d6", "2-2": "#a5add3",
                  "2-3": "#5698b9", "3-1": "#be64ac", "3-2": "#8c62aa", "3-3": "#3b4994"},
    "green-blue": {"1-1": "#e8e8e8", "1-2": "#b5c0da", "1-3": "#6c83b5", "2-1": "#b8d6be", "2-2": "#90b2b3",
                   "2-3": "#567994", "3-1": "#73ae80", "3-2": "#5a9178", "3-3": "#2a5a5b"},
    "blue-red": {"1-1": "#e8e8e8", "1-2": "#e4acac", "1-3": "#c85a5a", "2-1": "#b0d5df", "2-2": "#ad9ea5",
                 "2-3": "#985356", "3-1": "#64acbe", "3-2": "#627f8c", "3-3": "#574249"},
    "purple-gold": {"1-1": "#e8e8e8", "1-2": "#e4d9ac", "1-3": "#c8b35a", "2-1": "#cbb8d7", "2-2": "#c8ada0",
                    "2-3": "#af8e53", "3-1": "#9972af", "3-2": "#976b82", "3-3": "#804d36"},
}
SCHEMES = tuple(STEVENS_3X3)
DEPRIVATION_ORIENTATION = {"score": 1, "rank": -1, "decile": -1, "quintile": -1}
MAX_DISCRETE_VALUES = 20


def is_discrete(values: np.ndarray) -> bool:
    """Whole values with at most 20 distinct ones (deciles, quintiles, small counts)."""
    v = values[np.isfinite(values)]
    return bool(len(v)) and bool(np.all(v == np.round(v))) and len(np.unique(v)) <= MAX_DISCRETE_VALUES


def discrete_classes(values: np.ndarray, n: int) -> tuple[np.ndarray, list[list[float]]]:
    """(0-based class of each value, the values of each class): runs of whole values, as even
    as possible. With fewer distinct values than n, each value is a class of its own."""
    distinct, counts = np.unique(values, return_counts=True)
    m = len(distinct)
    if m <= n:
        groups = [[v] for v in distinct.tolist()]
        return np.searchsorted(distinct, values), groups
    target = counts.sum() / n
    best, best_cost = None, np.inf
    for cuts in combinations(range(1, m), n - 1):  # at most C(19, 3) = 969 groupings
        bounds = (0, *cuts, m)
        sizes = np.array([counts[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])])
        cost = float(((sizes - target) ** 2).sum())
        if cost < best_cost - 1e-9:
            best, best_cost = bounds, cost
    groups = [distinct[a:b].tolist() for a, b in zip(best[:-1], best[1:])]
    class_of_value = np.concatenate([np.full(b - a, i) for i, (a, b) in enumerate(zip(best[:-1], best[1:]))])
    return class_of_value[np.searchsorted(distinct, values)], groups


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def _values_label(values: list[float], noun: str) -> str:
    whole = sorted(int(v) for v in values)
    if len(whole) == 1:
        return f"{noun} {whole[0]}"
    plural = {"decile": "deciles", "quintile": "quintiles", "value": "values"}.get(noun, noun + "s")
    if whole == list(range(whole[0], whole[-1] + 1)):
        return f"{plural} {whole[0]}-{whole[-1]}"
    return f"{plural} {', '.join(map(str, whole))}"


def _cut(values: np.ndarray, n: int, orient: int, noun: str) -> tuple[np.ndarray, list[float], list[str], list]:
    """(0-based classes, upper bounds in the measure's own units, labels, values per class or None)
    of oriented ``values`` (all finite)."""
    if is_discrete(values):
        classes, groups = discrete_classes(values, n)
        own = [sorted(v * orient for v in g) for g in groups]
        return classes, [float(max(g)) * orient for g in groups], [_values_label(g, noun) for g in own], own
    with warnings.catch_warnings():  # too few distinct values for n classes: fewer classes, as the labels say
        warnings.simplefilter("ignore", UserWarning)
        cut = mapclassify.Quantiles(values, k=n)
    breaks = [float(b) * orient for b in cut.bins]
    lows = [float(values.min())] + [float(b) for b in cut.bins[:-1]]
    labels = [_fmt(hi * orient) if lo == hi else f"{_fmt(lo * orient)} to {_fmt(hi * orient)}"
              for lo, hi in zip(lows, cut.bins)]
    return np.asarray(cut.yb), breaks, labels, None


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def palette(scheme: str = "pink-blue", n: int = 3) -> dict[str, str]:
    """Colours by class id for an n x n grid."""
    if scheme not in STEVENS_3X3:
        raise InvalidValue(f"unknown colour scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if n == 3:
        return dict(STEVENS_3X3[scheme])
    if n != 4:
        raise InvalidValue("bivariate grids are 3 x 3 or 4 x 4")
    base = STEVENS_3X3[scheme]
    # single-hue ramps from the published corners: deprivation along d, activity along a
    white = _rgb(base["1-1"])
    dep_ramp = [white + (_rgb(base["3-1"]) - white) * t for t in np.linspace(0, 1, n)]
    act_ramp = [white + (_rgb(base["1-3"]) - white) * t for t in np.linspace(0, 1, n)]
    return {f"{d + 1}-{a + 1}": _hex(dep_ramp[d] * act_ramp[a] / 255.0 * (255.0 / white))
            for d in range(n) for a in range(n)}


@dataclass
class BivariateClasses:
    classes: pd.Series  # "d-a" per LSOA, missing where either value is missing
    deprivation_breaks: list[float]  # upper bounds, in the measure's own units
    activity_breaks: list[float]
    colours: dict[str, str]
    n: int
    deprivation_labels: list[str] = field(default_factory=list)  # legend text per class, 1 = least deprived
    activity_labels: list[str] = field(default_factory=list)
    deprivation_values: list | None = None  # the whole values each class holds (discrete measures)
    activity_values: list | None = None
    note: str = ""  # fewer classes than asked for (ties), in words

    def colour_of(self) -> pd.Series:
        return self.classes.map(self.colours)


def bivariate_classes(deprivation, activity, n: int = 3, deprivation_kind: str = "score",
                      scheme: str = "pink-blue", index=None) -> BivariateClasses:
    """``deprivation_kind``: score (higher is more deprived) or rank, decile, quintile (1 = most
    deprived)."""
    if deprivation_kind not in DEPRIVATION_ORIENTATION:
        raise InvalidValue(f"deprivation_kind must be one of {', '.join(DEPRIVATION_ORIENTATION)}")
    colours = palette(scheme, n)
    dep = np.asarray(deprivation, dtype=float) * DEPRIVATION_ORIENTATION[deprivation_kind]
    act = np.asarray(activity, dtype=float)
    ok = np.isfinite(dep) & np.isfinite(act)
    orient = DEPRIVATION_ORIENTATION[deprivation_kind]
    noun = deprivation_kind if deprivation_kind in ("decile", "quintile") else "value"
    d_yb, d_breaks, d_labels, d_values = _cut(dep[ok], n, orient, noun)
    a_yb, a_breaks, a_labels, a_values = _cut(act[ok], n, 1, "value")
    labels = np.full(len(dep), None, dtype=object)
    labels[ok] = [f"{d + 1}-{a + 1}" for d, a in zip(d_yb, a_yb)]
    short = [f"{what} {len(cut)} classes" for what, cut in (("deprivation", d_breaks), ("the indicator", a_breaks))
             if len(cut) < n]
    note = (f"{n} classes a side were asked for but the values have too many ties (many equal values, such as "
            f"zeros): {' and '.join(short)} shown") if short else ""
    return BivariateClasses(pd.Series(labels, index=index), d_breaks, a_breaks, colours, n, d_labels, a_labels,
                            d_values, a_values, note)
