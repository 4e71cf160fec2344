"""Every palette the web maps and slides draw with: one distinct colour per class, ordered where the
classes are ordered, and visibly unlike "No data". Colour differences are CIEDE2000, computed by
an independent colour library (coloraide), not by the code under test."""
import itertools

import pytest

coloraide = pytest.importorskip("coloraide")
Color = coloraide.Color

from geo.outputs import palettes  # noqa: E402
from geo.stats.bivariate_classes import SCHEMES, palette  # noqa: E402

DISTINCT = 4.0  # CIEDE2000: about twice a just-noticeable difference, side by side on a map
FROM_NO_DATA = 10.0  # "No data" must stand out from every class


def delta_e(a: str, b: str) -> float:
    return Color(a).delta_e(b, method="2000")


def lightness(c: str) -> float:
    return Color(c).convert("lab-d65")["lightness"]


def _palettes():
    """(name, colours in class order, ordered?) for every palette a map or slide can show."""
    out = []
    for n in range(2, 10):  # the classes of a choropleth: k from 2 to 9
        out.append((f"deprivation k={n}", palettes.ramp(palettes.PURPLES, n), True))
        out.append((f"activity k={n}", palettes.ramp(palettes.TEALS, n), True))
        out.append((f"IMD quintiles / deprivation reversed k={n}", palettes.ramp(palettes.PURPLES, n)[::-1], True))
    out.append(("IMD deciles (as the web and slides make them)", palettes.ramp(palettes.PURPLES, 10)[::-1], True))
    out.append(("IMD deciles", palettes.imd_decile_colours(), True))
    gi = [palettes.GI_COLOURS[b] for b in (3, 2, 1)] + [palettes.NOT_SIGNIFICANT] + [
        palettes.GI_COLOURS[b] for b in (-1, -2, -3)]
    out.append(("Gi* hot and cold spots", gi, False))
    out.append(("local Moran clusters", list(palettes.LISA_COLOURS.values()) + [palettes.NOT_SIGNIFICANT], False))
    out.append(("rural-urban", list(palettes.RURAL_COLOURS.values()), False))
    for scheme in SCHEMES:
        for n in (3, 4):
            colours = list(palette(scheme, n).values())
            if scheme == "blue-red":  # not drawn by any map or slide: its middle class is a grey
                out.append(pytest.param(f"bivariate {scheme} {n}x{n}", colours, False, id=f"bivariate {scheme} {n}x{n}",
                                        marks=pytest.mark.xfail(strict=True, reason="Stevens' blue-red 2-2 is grey")))
            else:
                out.append(pytest.param(f"bivariate {scheme} {n}x{n}", colours, False, id=f"bivariate {scheme} {n}x{n}"))
    return out


PALETTES = _palettes()


@pytest.mark.parametrize("name, colours, ordered", PALETTES,
                         ids=[p[0] if isinstance(p, tuple) else None for p in PALETTES])
def test_classes_are_distinct_and_unlike_no_data(name, colours, ordered):
    closest = min(itertools.combinations(colours, 2), key=lambda pair: delta_e(*pair))
    assert delta_e(*closest) >= DISTINCT, f"{name}: {closest} look alike"
    for c in colours:
        assert delta_e(c, palettes.NO_DATA_COLOUR) >= FROM_NO_DATA, f"{name}: {c} looks like No data"
    if ordered:  # sequential: each class darker than the one before
        steps = [lightness(b) - lightness(a) for a, b in zip(colours, colours[1:])]
        assert all(s < 0 for s in steps) or all(s > 0 for s in steps), f"{name}: lightness not monotonic"


def test_deciles_are_one_sequential_ramp():
    """Issue 20: a diverging scheme made both ends dark (decile 10 dark brown). One purple ramp:
    decile 1 (most deprived) darkest, each decile lighter, decile 10 lightest."""
    deciles = palettes.imd_decile_colours()
    assert len(set(deciles)) == 10
    light = [lightness(c) for c in deciles]
    assert all(a < b for a, b in zip(light, light[1:])) and light[-1] > 90
    hue = [Color(c).convert("lch-d65")["hue"] for c in deciles]
    assert all(250 < h < 330 for h in hue[:9])  # purples throughout (the lightest is nearly white)


def test_the_reported_clashes_are_gone():
    deciles = palettes.ramp(palettes.PURPLES, 10)[::-1]  # what the web map and deciles slides use
    assert len(set(deciles)) == 10  # was 3 and 4 both #6a51a3, 7 and 8 both #bcbddc
    assert delta_e(palettes.RURAL_COLOURS["Urban"], palettes.NO_DATA_COLOUR) >= FROM_NO_DATA  # was #bdbdbd/#d9d9d9


def test_ramp_refuses_more_classes_than_colours():
    with pytest.raises(ValueError):
        palettes.ramp(palettes.TEALS, 10)
    with pytest.raises(ValueError):
        palettes.ramp(["#000000", "#ffffff"], 3)
