"""Slide images drawn on the server: size, content, formats."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from geo.outputs import slides
from geo.views.analysis import Extent


@pytest.mark.parametrize("view", ["indicator", "hotspots", "clusters", "deciles-local"])
def test_png_slide_is_full_hd_and_not_blank(fixture_store, tmp_path, view):
    path = slides.render(fixture_store, "imd_score", Extent("icb", "E54000001"), view, "png", tmp_path)
    image = Image.open(path)
    assert image.size == (1920, 1080)
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20  # a map, a legend and text, not an empty canvas
    assert (pixels != 255).any(axis=1).mean() > 0.05


def test_bivariate_print_and_svg(fixture_store, tmp_path):
    from geo.ingest.pipeline import IngestOptions, ingest

    data = tmp_path / "c.csv"
    data.write_text("lsoa21cd,count\n" + "".join(f"E0100000{i},{10 * i}\n" for i in range(1, 9)))
    ingest(data, IngestOptions(name="slide-data", measure="A&E attendances", synthetic=True), fixture_store)
    png = slides.render(fixture_store, "slide-data", Extent("icb", "E54000001"), "bivariate", "print", tmp_path)
    width, height = Image.open(png).size  # 13.33 x 7.5 inches at 300 dpi
    assert abs(width - 4000) <= 1 and height == 2250
    svg = slides.render(fixture_store, "slide-data", Extent("icb", "E54000001"), "bivariate", "svg", tmp_path)
    text = svg.read_text()
    ET.fromstring(text)  # parses
    assert "SYNTHETIC DATA" in text and "more deprived" in text and "Open Government Licence" in text
    with pytest.raises(ValueError):
        slides.render(fixture_store, "imd_score", Extent("icb", "E54000001"), "pie", "png", tmp_path)


# ---- slides for a projector: read from the matplotlib figure itself ------------------------
ALL_VIEWS = ["indicator", "hotspots", "clusters", "bivariate", "deciles-local"]


@pytest.fixture(scope="module")
def activity(fixture_store, tmp_path_factory):
    """A synthetic activity dataset for the bivariate view."""
    from geo.ingest.pipeline import IngestOptions, ingest

    data = tmp_path_factory.mktemp("activity") / "a.csv"
    data.write_text("lsoa21cd,count\n" + "".join(f"E0100000{i},{7 * i + 3}\n" for i in range(1, 9)))
    ingest(data, IngestOptions(name="projector-data", measure="A&E attendances", synthetic=True), fixture_store)
    return "projector-data"


def _texts(fig):
    """Every visible text of the figure, with its artist."""
    hidden = {id(a) for ax in fig.axes if not ax.axison for axis in (ax.xaxis, ax.yaxis) for a in axis.findobj()}
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def _px_at_1920(fig, points: float) -> float:
    """A font size in pixels on the 1920-pixel-wide slide (the same share of the width in every format)."""
    return points * fig.dpi / 72 * 1920 / (fig.get_figwidth() * fig.dpi)


@pytest.mark.parametrize("fmt", ["png", "print"])
@pytest.mark.parametrize("extent", [Extent("icb", "E54000001"), Extent("lad", "E06000002")], ids=["icb", "lad"])
@pytest.mark.parametrize("view", ALL_VIEWS)
def test_every_text_is_inside_the_slide_and_big_enough(fixture_store, activity, view, extent, fmt):
    indicator = activity if view == "bivariate" else "imd_score"
    fig, parts = slides.figure(fixture_store, indicator, extent, view, fmt)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        for text in _texts(fig):
            box = text.get_window_extent(renderer)
            assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, \
                f"{text.get_text()[:40]!r} runs off the slide"
            if text is not parts.attribution:
                assert _px_at_1920(fig, text.get_fontsize()) >= 14, f"{text.get_text()[:40]!r} is too small"
        # the names on the map: readable on a projector, none over another
        assert parts.labels, "no ward or place names drawn"
        boxes = [t.get_window_extent(renderer) for t in parts.labels]
        for i, a in enumerate(boxes):
            assert _px_at_1920(fig, parts.labels[i].get_fontsize()) >= 14
            for b in boxes[i + 1:]:
                assert not a.overlaps(b)
        # the legend stands next to the map, with no gap wider than 3% of the slide
        map_box = parts.map_ax.get_position()
        legend_box = parts.legend_ax.get_position()
        assert 0 <= legend_box.x0 - map_box.x1 <= 0.03
        # the subtitle says where and how, not the title again
        title, subtitle = parts.title.get_text(), parts.subtitle.get_text()
        assert title not in subtitle and title.split(" of ")[-1].lower() not in subtitle.lower()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_decile_legend_names_both_ends(fixture_store):
    fig, parts = slides.figure(fixture_store, "imd_score", Extent("lad", "E06000001"), "deciles-local")
    words = [t.get_text() for t in parts.legend_texts]
    assert "Decile 1 (most deprived in the place)" in words
    assert "Decile 10 (least deprived in the place)" in words


def test_bivariate_legend_has_its_title_axes_and_no_data_inside_its_box(fixture_store, activity):
    fig, parts = slides.figure(fixture_store, activity, Extent("icb", "E54000001"), "bivariate", "png")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = parts.legend_ax.get_window_extent(renderer)
    words = [t.get_text() for t in parts.legend_texts]
    assert "more deprived" in words and "No data" in words and any(w.startswith("more A&E") for w in words)
    assert any(w.startswith("Deprivation") for w in words)
    for text in parts.legend_texts:
        inner = text.get_window_extent(renderer)
        assert box.x0 - 1 <= inner.x0 and inner.x1 <= box.x1 + 1 and box.y0 - 1 <= inner.y0 and inner.y1 <= box.y1 + 1


def test_icb_slide_draws_places_and_wards_only_within_the_icb(fixture_store):
    """ICB QAA holds LSOAs 5 and 6 of Betaford (5-8): its outline and label are of that part."""
    fig, parts = slides.figure(fixture_store, "imd_score", Extent("icb", "E54000001"), "indicator")
    names = [t.get_text() for t in parts.labels] + parts.dropped_labels
    assert sorted(names) == ["Alphaton", "Betaford (part)"]
    lsoas = fixture_store.lsoas(icb="E54000001").to_crs(27700)
    minx, miny, maxx, maxy = lsoas.total_bounds
    for collection in parts.map_ax.collections:
        for path in collection.get_paths():
            xs, ys = path.vertices[:, 0], path.vertices[:, 1]
            if len(xs) == 0:
                continue
            assert xs.min() >= minx - 1 and xs.max() <= maxx + 1 and ys.min() >= miny - 1 and ys.max() <= maxy + 1


@pytest.mark.parametrize("view", ALL_VIEWS)
def test_every_view_renders_to_png(fixture_store, activity, tmp_path, view):
    indicator = activity if view == "bivariate" else "imd_score"
    path = slides.render(fixture_store, indicator, Extent("icb", "E54000001"), view, "png", tmp_path)
    image = Image.open(path)
    assert image.size == (1920, 1080)
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert (pixels != 255).any(axis=1).mean() > 0.05


@pytest.mark.mirror
def test_crowded_real_place_keeps_readable_labels_apart(england_store):
    """Milton Keynes: 21 wards, many small ones in the centre; names stay 14 px or more, none
    overlaps another, and the ones that would are left out rather than shrunk."""
    fig, parts = slides.figure(england_store, "imd_score", Extent("lad", "E06000042"), "indicator", "png")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in parts.labels]
    assert len(parts.labels) >= 10 and parts.dropped_labels
    assert len(parts.labels) + len(parts.dropped_labels) == len(england_store.areas("ward", lad="E06000042"))
    assert all(t.get_fontsize() * fig.dpi / 72 >= 14 for t in parts.labels)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_hot_spot_slide_says_its_levels_are_two_sided(fixture_store, tmp_path):
    """Issue 21: the slide's method line says the Gi* levels are two-sided (|z| >= 1.645 ...)."""
    svg = slides.render(fixture_store, "imd_score", Extent("icb", "E54000001"), "hotspots", "svg", tmp_path)
    text = " ".join(svg.read_text().split())
    assert "two-sided" in text and "1.645" in text


def test_bivariate_of_deprivation_itself_is_refused_with_its_reason(fixture_store, folder_fixture_store, tmp_path,
                                                                   monkeypatch):
    """Issue 21: `gapmap slide imd_score --view bivariate` exited 1 with "no bivariate classes for
    'imd_score': " and no reason."""
    from click.testing import CliRunner

    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(folder_fixture_store.root))
    result = CliRunner().invoke(main, ["slide", "imd_score", "--icb", "E54000001", "--view", "bivariate",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert ("the bivariate view sets deprivation against an indicator; imd_score is the deprivation measure "
            "itself: choose an activity indicator, or --view deciles-local") in result.output
    assert not list(tmp_path.iterdir())
    for indicator, words in (("imd_decile", "is the deprivation measure itself"),
                             ("income_score", "is itself a measure of deprivation (a domain of the IMD)")):
        with pytest.raises(ValueError, match=r"no bivariate classes for '\w+': the bivariate view sets") as caught:
            slides.render(fixture_store, indicator, Extent("icb", "E54000001"), "bivariate", "png", tmp_path)
        assert words in str(caught.value)


def test_every_refusal_of_a_view_has_its_reason(fixture_store):
    """No empty reason on the way to a slide's colours: a missing note gets its words."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"value": [1.0], "imd_decile_in_icb": [1]})
    frame.attrs.update({"bivariate": None, "bivariate_note": "", "statistics": ""})
    for view, indicator, words in (("bivariate", "projector-data", "the map table computed no bivariate classes"),
                                   ("bivariate", "imd_score", "is the deprivation measure itself"),
                                   ("hotspots", "imd_score", "the statistics were not computed"),
                                   ("clusters", "imd_score", "the statistics were not computed")):
        with pytest.raises(ValueError) as caught:
            slides._colours(frame, view, indicator, fixture_store, Extent("icb", "E54000001"))
        message = str(caught.value)
        assert words in message and not message.rstrip().endswith(":")


# ---- issue 20 item 5: the title from the measure, never clipped, no file replaced silently ---------
LONG_TITLE = ("Emergency admissions of children and young people under 18 for asthma, diabetes and epilepsy in "
              "the most deprived fifth of neighbourhoods of Bedford, Luton and Milton Keynes, 2022/23 to 2024/25")


def test_a_dataset_ingested_without_a_measure_is_titled_by_its_definition_not_its_slug(fixture_store, tmp_path):
    from geo.ingest.pipeline import IngestOptions, ingest

    data = tmp_path / "s.csv"
    data.write_text("lsoa21cd,count\n" + "".join(f"E0100000{i},{5 * i + 10}\n" for i in range(1, 9)))
    ingest(data, IngestOptions(name="ae-2024-slug"), fixture_store)  # no --measure
    try:
        fig, parts = slides.figure(fixture_store, "ae-2024-slug", Extent("icb", "E54000001"), "indicator")
        assert parts.title.get_text() == "Crude rate per 100,000 residents per year"
        assert "ae-2024-slug" not in " ".join(t.get_text() for t in _texts(fig))
        fig, parts = slides.figure(fixture_store, "ae-2024-slug", Extent("icb", "E54000001"), "hotspots")
        assert parts.title.get_text() == ("Hot and cold spots (Getis-Ord Gi*) of Crude rate per 100,000 residents "
                                          "per year")
    finally:
        _forget(fixture_store, "ae-2024-slug")


def _forget(store, name):
    """Remove a dataset this file added to the shared fixture store, and close its figures."""
    import matplotlib.pyplot as plt

    from geo.store.datasets import DatasetStore

    DatasetStore(store).remove(name)
    plt.close("all")


def test_a_dataset_for_an_nhs_indicator_is_titled_by_the_indicator(fixture_store, tmp_path):
    from geo.ingest.pipeline import IngestOptions, ingest

    data = tmp_path / "n.csv"
    data.write_text("lsoa21cd,count\n" + "".join(f"E0100000{i},{5 * i + 10}\n" for i in range(1, 9)))
    ingest(data, IngestOptions(name="ora-slug", nhs_indicator="ORA01"), fixture_store)
    try:
        fig, parts = slides.figure(fixture_store, "ora-slug", Extent("icb", "E54000001"), "indicator")
        assert parts.title.get_text().startswith("ORA01: ") and "ora-slug" not in parts.title.get_text()
    finally:
        _forget(fixture_store, "ora-slug")


def test_title_option_is_the_slide_title(fixture_store, activity, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    fig, parts = slides.figure(fixture_store, activity, Extent("icb", "E54000001"), "hotspots",
                               title="Where children wait longest")
    assert parts.title.get_text() == "Where children wait longest"
    for key, value in fixture_store.environment().items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["slide", activity, "--icb", "E54000001", "--format", "svg", "--title",
                                       "Where children wait longest", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Where children wait longest" in next(tmp_path.glob("*.svg")).read_text()


@pytest.mark.parametrize("fmt", ["png", "print"])
def test_a_long_title_is_wrapped_inside_the_slide_not_clipped(fixture_store, activity, fmt):
    fig, parts = slides.figure(fixture_store, activity, Extent("icb", "E54000001"), "indicator", fmt,
                               title=LONG_TITLE)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = parts.title.get_window_extent(renderer)
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1
    lines = parts.title.get_text().split("\n")
    assert len(lines) == 2 and " ".join(lines) == LONG_TITLE  # every word kept, on two lines
    assert _px_at_1920(fig, parts.title.get_fontsize()) >= 24  # still a title on a projector
    assert not box.overlaps(parts.subtitle.get_window_extent(renderer))


def test_a_slide_is_not_replaced_without_force(fixture_store, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    for key, value in fixture_store.environment().items():
        monkeypatch.setenv(key, value)
    args = ["slide", "imd_score", "--lad", "E06000001", "--format", "svg", "--out", str(tmp_path)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    (path,) = tmp_path.glob("*.svg")
    path.write_text("kept")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1
    assert again.output == (f"Error: {path} already exists: nothing was written. Add --force to replace it, or "
                            f"choose another folder with --out.\n")
    assert path.read_text() == "kept"
    forced = CliRunner().invoke(main, args + ["--force"])
    assert forced.exit_code == 0 and forced.output == f"Wrote {path}\n" and path.read_text() != "kept"


def test_the_map_stands_above_the_method_and_attribution_lines(fixture_store):
    """The hot-spot slide's method and attribution run to several lines: the map is drawn above them."""
    fig, parts = slides.figure(fixture_store, "imd_score", Extent("icb", "E54000001"), "hotspots")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert parts.attribution.get_text().startswith("Method: ")
    assert parts.map_ax.get_window_extent(renderer).y0 >= parts.attribution.get_window_extent(renderer).y1
    assert parts.legend_ax.get_window_extent(renderer).y0 >= parts.attribution.get_window_extent(renderer).y1
