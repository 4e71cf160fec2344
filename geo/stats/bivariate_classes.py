"""Bivariate classes: each LSOA in a 3 x 3 (or 4 x 4) grid of deprivation against activity.

Each measure is cut into n quantile classes (mapclassify ``Quantiles``) and an LSOA's class is
``"d-a"``: d for deprivation, a for activity, 1 = low .. n = high, so ``"3-3"`` is high
deprivation with high activity. Deprivation is always oriented so that n = most deprived: a
decile or rank (1 = most deprived) is reversed before cutting. Missing values get no class.

Colour schemes are Joshua Stevens' ("Bivariate Choropleth Maps: A How-to Guide", 2015), keyed
``"d-a"``. The default, ``pink-blue``, is the ICB's convention: deprivation in purple, activity
in teal, both high dark blue. For 4 x 4 grids the colours are made the way Stevens makes his,
by multiply-blending a single-hue ramp for each measure.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    d_cut = mapclassify.Quantiles(dep[ok], k=n)
    a_cut = mapclassify.Quantiles(act[ok], k=n)
    labels = np.full(len(dep), None, dtype=object)
    labels[ok] = [f"{d + 1}-{a + 1}" for d, a in zip(d_cut.yb, a_cut.yb)]
    orient = DEPRIVATION_ORIENTATION[deprivation_kind]
    return BivariateClasses(pd.Series(labels, index=index), [float(b) * orient for b in d_cut.bins],
                            [float(b) for b in a_cut.bins], colours, n)
