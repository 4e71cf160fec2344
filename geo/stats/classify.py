"""Classes for single-indicator maps, through mapclassify.

Schemes: ``quantiles``, ``fisher_jenks``, ``equal_interval``, ``std_mean`` (standard deviation
from the mean), ``user`` (breaks given), and the fixed ``imd_deciles`` / ``imd_quintiles``
(values 1..10 or 1..5, 1 = most deprived). Missing values are never put in a class: they get
class -1 and the label "No data", so a map can draw them distinctly.

``classify`` returns a :class:`Classes`: ``classes`` (0-based class per value, -1 for no data),
``breaks`` (upper bound of each class), ``labels`` (legend text, e.g. "12.3 to 25.0"), ``counts``,
and ``note``: what was changed from the request, in words (empty when nothing was).

Bounded cost: Fisher-Jenks is quadratic in the number of values (pure-Python mapclassify without
numba: 0.25 s for 500 values, 1 s for 1,000, ~30 minutes for England's 33,755). Above ``FISHER_JENKS_SAMPLE``
distinct values the breaks are found on that many evenly spaced order statistics of the values
(deterministic, unlike mapclassify's random ``FisherJenksSampled``) and every value is classed
by them. Asking for more classes than there are distinct values gives one class per distinct
value, and says so in ``note``.
"""
from __future__ import annotations

from dataclasses import dataclass

import mapclassify
import numpy as np

from geo.errors import InvalidValue

FISHER_JENKS_SAMPLE = 500
SCHEMES = ("quantiles", "fisher_jenks", "equal_interval", "std_mean", "user", "imd_deciles", "imd_quintiles")
NO_DATA = "No data"


@dataclass
class Classes:
    scheme: str
    classes: np.ndarray
    breaks: list[float]
    labels: list[str]
    counts: list[int]
    no_data: int
    note: str = ""

    def label_of(self) -> np.ndarray:
        labels = np.array(self.labels + [NO_DATA], dtype=object)
        return labels[np.where(self.classes < 0, len(self.labels), self.classes)]


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def classify(values, scheme: str = "quantiles", k: int = 5, breaks: list[float] | None = None) -> Classes:
    if scheme not in SCHEMES:
        raise InvalidValue(f"unknown classification {scheme!r}; choose one of {', '.join(SCHEMES)}")
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    classes = np.full(len(values), -1, dtype=int)
    if scheme in ("imd_deciles", "imd_quintiles"):
        top = 10 if scheme == "imd_deciles" else 5
        bad = ok & ~np.isin(values, np.arange(1, top + 1))
        if bad.any():
            raise InvalidValue(f"{scheme} needs whole numbers 1 to {top}; got {values[bad][0]!r}")
        classes[ok] = values[ok].astype(int) - 1
        name = "decile" if top == 10 else "quintile"
        labels = [f"{i} (most deprived)" if i == 1 else f"{i} (least deprived)" if i == top else str(i)
                  for i in range(1, top + 1)]
        labels = [f"{name.capitalize()} {lab}" for lab in labels]
        counts = [int((classes == i).sum()) for i in range(top)]
        return Classes(scheme, classes, [float(i) for i in range(1, top + 1)], labels, counts, int((~ok).sum()))
    data = values[ok]
    if len(data) == 0:
        return Classes(scheme, classes, [], [], [], int((~ok).sum()))
    note = ""
    distinct = np.unique(data)
    fitted = None
    if scheme in ("quantiles", "fisher_jenks", "equal_interval") and len(distinct) < k:
        many = len(distinct) != 1
        note = (f"{k} classes were asked for but the values take only {len(distinct)} distinct value"
                f"{'s' if many else ''}: {len(distinct)} class{'es' if many else ''} shown")
        k = len(distinct)
        if scheme != "equal_interval":  # one class per distinct value
            fitted = mapclassify.UserDefined(data, [float(v) for v in distinct])
    if fitted is not None:
        pass
    elif scheme == "user":
        if not breaks:
            raise InvalidValue("user-defined classes need breaks")
        fitted = mapclassify.UserDefined(data, sorted(breaks))
    elif scheme == "quantiles":
        import warnings

        with warnings.catch_warnings(record=True) as caught:  # ties: said in the note, not printed
            warnings.simplefilter("always", UserWarning)
            fitted = mapclassify.Quantiles(data, k=k)
        if caught and len(fitted.bins) < k:
            note = (f"{k} quantile classes were asked for but the values have too many ties (many equal values, "
                    f"such as zeros): {len(fitted.bins)} classes shown")
    elif scheme == "fisher_jenks":
        fitted = _fisher_jenks(data, distinct, k)
    elif scheme == "equal_interval":
        fitted = mapclassify.EqualInterval(data, k=k)
    else:
        fitted = mapclassify.StdMean(data)
    classes[ok] = fitted.yb
    bins = [float(b) for b in fitted.bins]
    lower = [float(data.min())] + bins[:-1]
    labels = [_fmt(hi) if lo == hi else f"{_fmt(lo)} to {_fmt(hi)}" for lo, hi in zip(lower, bins)]  # "0", not "0 to 0"
    counts = [int(c) for c in fitted.counts]
    return Classes(scheme, classes, bins, labels, counts, int((~ok).sum()), note)


def _fisher_jenks(data: np.ndarray, distinct: np.ndarray, k: int):
    """Fisher-Jenks natural breaks, on at most FISHER_JENKS_SAMPLE evenly spaced order statistics."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Numba not installed": the sample bounds the cost
        if len(distinct) <= FISHER_JENKS_SAMPLE:
            return mapclassify.FisherJenks(data, k=k)
        ordered = np.sort(data)
        sample = ordered[np.linspace(0, len(ordered) - 1, FISHER_JENKS_SAMPLE).round().astype(int)]
        breaks = list(mapclassify.FisherJenks(sample, k=k).bins)
        breaks[-1] = float(ordered[-1])
        return mapclassify.UserDefined(data, breaks)
