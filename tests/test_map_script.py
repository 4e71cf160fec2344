"""The page's ring decoder (static/js/gapmap-canvas.js, run by node) gives back the geometries the
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


@pytest.fixture
def node():
    if NODE is None:
        if os.environ.get("GAPMAP_REQUIRE_MIRROR") == "1":
            pytest.fail("node is not installed (.ci/run installs Debian's nodejs)")
        pytest.skip("node is not installed")
    return NODE


CANVAS = Path(__file__).resolve().parents[1] / "static" / "js" / "gapmap-canvas.js"


def test_node_decodes_what_the_server_encodes(node, tmp_path):
    """The canvas layer (static/js/gapmap-canvas.js) decodes the packed rings to the polygons' own
    points, rounded as sent: each ring, holes and a multipolygon's parts included, back from its
    Web Mercator world units (the inverse of pyproj's EPSG:3857) to longitude and latitude."""
    import pyproj

    square = shapely.Polygon([(-0.41234, 51.8), (-0.40001, 51.8), (-0.40001, 51.81), (-0.41234, 51.81)])
    holed = shapely.Polygon([(0, 50), (1, 50), (1, 51), (0, 51)], [[(0.2, 50.2), (0.4, 50.2), (0.3, 50.4)]])
    multi = shapely.MultiPolygon([square, shapely.Polygon([(2, 52), (2.5, 52), (2.25, 52.5)])])
    geoms = np.array([square, holed, multi], dtype=object)
    decimals = 4
    rings = [json.loads(g)["q"] for g in geometries_as_json(geoms, decimals, delta=True)]
    (tmp_path / "rings.json").write_text(json.dumps(rings))
    code = ("const C = require(process.argv[1]); const fs = require('fs');"
            "const rings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));"
            f"const shapes = C.project({{columns: {{}}, rings: rings}}, {10 ** decimals});"
            "process.stdout.write(JSON.stringify(shapes.map(s => s.rings.map(r => Array.from(r)))));")
    out = subprocess.run([node, "-e", code, str(CANVAS), str(tmp_path / "rings.json")], capture_output=True,
                         text=True, timeout=60, check=True)
    decoded = json.loads(out.stdout)
    half = np.pi * 6378137.0
    back = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
    for geom, got in zip(geoms, decoded):
        polygons = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        expected = [np.round(np.asarray(r.coords), decimals) for p in polygons for r in [p.exterior, *p.interiors]]
        assert len(got) == len(expected)  # every ring of every part, in order
        for ring, want in zip(got, expected):
            world = np.asarray(ring).reshape(-1, 2)
            lon, lat = back.transform(world[:, 0] * 2 * half - half, half - world[:, 1] * 2 * half)
            np.testing.assert_allclose(np.column_stack([lon, lat]), want, atol=1e-9)


def test_canvas_layer_projects_as_web_mercator_and_finds_the_polygon_under_a_point(node, tmp_path):
    """static/js/gapmap-canvas.js (England's map): its projection against pyproj's EPSG:3857, and its
    point-in-polygon test (holes included) against shapely, on rings decoded as the server packs them."""
    import pyproj

    holed = shapely.Polygon([(-1.0, 51.0), (0.5, 51.0), (0.5, 52.5), (-1.0, 52.5)],
                            [[(-0.5, 51.5), (0.0, 51.5), (0.0, 52.0), (-0.5, 52.0)]])
    other = shapely.MultiPolygon([shapely.Polygon([(1.0, 53.0), (2.0, 53.0), (1.5, 54.0)]),
                                  shapely.Polygon([(-3.0, 50.0), (-2.0, 50.0), (-2.0, 50.5)])])
    decimals = 4
    rings = [json.loads(g)["q"] for g in geometries_as_json(np.array([holed, other], dtype=object), decimals, delta=True)]
    rng = np.random.default_rng(7)
    points = np.column_stack([rng.uniform(-3.5, 2.5, 400), rng.uniform(49.5, 54.5, 400)])
    (tmp_path / "in.json").write_text(json.dumps({"rings": rings, "points": points.tolist()}))
    code = ("const C = require(process.argv[1]); const fs = require('fs');"
            "const d = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));"
            f"const shapes = C.project({{columns: {{c: ['a', 'b']}}, rings: d.rings}}, {10 ** decimals});"
            "const hits = d.points.map(p => { const w = C.world(p[0], p[1]);"
            " return shapes.findIndex(s => C.inside(s.rings, w[0], w[1])); });"
            "process.stdout.write(JSON.stringify({world: d.points.map(p => C.world(p[0], p[1])), hits: hits,"
            " boxes: shapes.map(s => s.box), codes: shapes.map(s => s.feature.properties.c)}));")
    out = subprocess.run([node, "-e", code, str(CANVAS), str(tmp_path / "in.json")], capture_output=True, text=True,
                         timeout=60, check=True)
    got = json.loads(out.stdout)
    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(points[:, 0], points[:, 1])
    half = np.pi * 6378137.0
    np.testing.assert_allclose(np.asarray(got["world"]), np.column_stack([(x + half) / (2 * half), (half - y) / (2 * half)]),
                               atol=1e-12)
    expected = [0 if holed.contains(shapely.Point(p)) else 1 if other.contains(shapely.Point(p)) else -1 for p in points]
    near_edge = [min(holed.boundary.distance(shapely.Point(p)), other.boundary.distance(shapely.Point(p))) < 2e-4
                 for p in points]  # rounded to 4 decimals: points this close to an edge may fall either way
    assert {-1, 0, 1} <= set(expected)
    assert [g for g, n in zip(got["hits"], near_edge) if not n] == [e for e, n in zip(expected, near_edge) if not n]
    assert got["codes"] == ["a", "b"]
    assert got["boxes"][1][0] == pytest.approx((-3.0 + 180) / 360, abs=1e-9)  # the second shape spans lon -3 to 2
    assert got["boxes"][1][2] == pytest.approx((2.0 + 180) / 360, abs=1e-9)
