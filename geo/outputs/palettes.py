"""Colours shared by the web maps and the slides, so both draw the same classes alike.

Every class colour comes from ColorBrewer (Cynthia Brewer, colorbrewer2.org, as shipped by
``branca``, Folium's own dependency), chosen colour-blind safe:

- ``PURPLES`` (deprivation) and ``TEALS`` (ColorBrewer GnBu, activity) are sequential families.
  :func:`ramp` gives ColorBrewer's own n-class scheme for 3 to 9 classes (its colours are spaced
  for that n, not sampled from a longer ramp, so no two classes share a colour), the ends of the
  3-class scheme for 2 classes.
- ``IMD_DECILES``: ten classes are more than any ColorBrewer sequential scheme holds (9), so IMD
  deciles are ColorBrewer's nine Purples and, darker still, the darkest purple of ColorBrewer's
  PuOr: one sequential ramp, low to high, decile 10 (least deprived, lightest) first, decile 1
  (most deprived, darkest) last, so only the most deprived end is dark (issue 20: a diverging
  scheme made both ends dark). ``ramp(PURPLES, 10)`` returns the same list, so callers that
  reverse it to put decile 1 first get ten distinct colours.
- ``GI_COLOURS`` (RdBu), ``LISA_COLOURS`` (RdYlBu), ``RURAL_COLOURS`` (Dark2, qualitative).
- ``NO_DATA_COLOUR`` is a mid grey: at least 10 CIEDE2000 units from every class colour of every
  palette here (the map also draws no-data areas with a dashed outline).

``tests/test_palettes.py`` checks, with an independent colour library, that the classes of every
palette are distinct (CIEDE2000), ordered in lightness where they are ordered classes, and
visibly different from "No data".
"""
from __future__ import annotations

from branca.utilities import color_brewer

from geo.errors import InvalidValue

PURPLES = color_brewer("Purples", 9)  # light to dark
TEALS = color_brewer("GnBu", 9)
IMD_DECILES = color_brewer("Purples", 9) + [color_brewer("PuOr", 10)[-1]]  # [0] decile 10 ... [9] decile 1
NO_DATA_COLOUR = "#969696"
NOT_SIGNIFICANT = "#f7f7f7"
LISA_COLOURS = {"High-High": "#d7191c", "Low-Low": "#2c7bb6", "Low-High": "#abd9e9", "High-Low": "#fdae61"}
GI_COLOURS = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac"}
GI_SHADES = {**GI_COLOURS, 0: NOT_SIGNIFICANT}  # each Gi* bin's fill, "not significant" included
RURAL_COLOURS = {"Urban": "#d95f02", "Rural": "#1b9e77"}
_FAMILIES = {tuple(PURPLES): "Purples", tuple(TEALS): "GnBu"}


def gi_legend_rows() -> list[tuple[str, str]]:
    """The Gi* legend as every map and slide shows it, hottest first: (colour, words) of each
    confidence level, "not significant" in the middle."""
    from geo.stats.getis_ord import BIN_LABELS

    return [(GI_SHADES[b], BIN_LABELS[b]) for b in (3, 2, 1, 0, -1, -2, -3)]


def ramp(colours: list[str], n: int) -> list[str]:
    """n class colours, light to dark. For the ColorBrewer families above, ColorBrewer's own
    n-class scheme (ten classes of ``PURPLES``: ``IMD_DECILES``); for any other list, n colours
    picked evenly from it (it must hold at least n)."""
    family = _FAMILIES.get(tuple(colours))
    if family is not None:
        if n <= 1:
            return [colours[-1]]
        if n == 2:
            three = color_brewer(family, 3)
            return [three[0], three[2]]
        if n <= 9:
            return list(color_brewer(family, n))
        if n == 10 and family == "Purples":
            return list(IMD_DECILES)
        raise InvalidValue(f"at most 9 classes can be coloured ({n} asked for)")
    if n > len(colours):
        raise InvalidValue(f"{n} classes need {n} colours; the palette has {len(colours)}")
    if n <= 1:
        return [colours[-1]]
    step = (len(colours) - 1) / (n - 1)
    return [colours[round(i * step)] for i in range(n)]


def imd_decile_colours() -> list[str]:
    """Colour of IMD decile d at index d - 1 (decile 1, most deprived, darkest purple)."""
    return IMD_DECILES[::-1]


def is_deprivation(indicator: str) -> bool:
    return indicator.startswith("imd") or indicator.split("_")[0] in (
        "income", "employment", "education", "health", "crime", "barriers", "living")
