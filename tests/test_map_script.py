"""The page's ring decoder (static/js/gapmap-map.js, run by node) gives back the geometries the
server encoded (geo/geojson_text.py), rounded as the server rounds them."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.outputs.geojson_text import geometries_as_json

NODE = shutil.which("node") or shutil.which("nodejs")
SCRIPT = Path(__file__).resolve().parents[1] / "static" / "js" / "gapmap-map.js"


@pytest.fixture
def node():
    if NODE is None:
        if os.environ.get("GAPMAP_REQUIRE_MIRROR") == "1":
            pytest.fail("node is not installed (.ci/run installs Debian's nodejs)")
        pytest.skip("node is not installed")
    return NODE


def test_node_decodes_what_the_server_encodes(node, tmp_path):
    square = shapely.Polygon([(-0.41234, 51.8), (-0.40001, 51.8), (-0.40001, 51.81), (-0.41234, 51.81)])
    holed = shapely.Polygon([(0, 50), (1, 50), (1, 51), (0, 51)], [[(0.2, 50.2), (0.4, 50.2), (0.3, 50.4)]])
    multi = shapely.MultiPolygon([square, shapely.Polygon([(2, 52), (2.5, 52), (2.25, 52.5)])])
    geoms = np.array([square, holed, multi], dtype=object)
    decimals = 4
    rings = [json.loads(g)["q"] for g in geometries_as_json(geoms, decimals, delta=True)]
    (tmp_path / "rings.json").write_text(json.dumps(rings))
    code = ("const G = require(process.argv[1]); const fs = require('fs');"
            "const rings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));"
            f"process.stdout.write(JSON.stringify(rings.map(r => G.decodeRings(r, {10 ** decimals}))));")
    out = subprocess.run([node, "-e", code, str(SCRIPT), str(tmp_path / "rings.json")], capture_output=True,
                         text=True, timeout=60, check=True)
    decoded = json.loads(out.stdout)
    for geom, parts in zip(geoms, decoded):
        polygons = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        assert len(parts) == len(polygons)
        for polygon, part in zip(polygons, parts):
            expected = [np.round(np.asarray(polygon.exterior.coords), decimals)] + [
                np.round(np.asarray(r.coords), decimals) for r in polygon.interiors]
            assert len(part) == len(expected)
            for ring, want in zip(part, expected):
                np.testing.assert_allclose(np.asarray(ring), want, atol=0.5 * 10 ** -decimals)
