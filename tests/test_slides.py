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
