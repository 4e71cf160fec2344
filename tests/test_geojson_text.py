"""GeoJSON geometry text written by GEOS (geo.outputs.geojson_text) equals, character for
character, json.dumps of the coordinates rounded in Python: the reference it replaced."""
import json

import numpy as np
import shapely

from geo.outputs.geojson_text import geometries_as_json


def _reference(geoms, decimals):
    out = []
    for g in geoms:
        polygons = list(g.geoms) if g.geom_type == "MultiPolygon" else [g]
        parts = [[np.round(np.asarray(ring.coords), decimals).tolist()
                  for ring in [p.exterior, *p.interiors]] for p in polygons]
        out.append('{"type":"MultiPolygon","coordinates":' + json.dumps(parts, separators=(",", ":")) + "}")
    return out


def test_rounded_text_equals_python_json():
    rng = np.random.default_rng(5)
    geoms = []
    for _ in range(300):  # England-like coordinates, many printed by GEOS with 17 digits once rounded
        x, y = rng.uniform(-6, 2), rng.uniform(49.9, 55.8)
        geoms.append(shapely.Polygon(np.column_stack([x + rng.uniform(0, 0.01, 6), y + rng.uniform(0, 0.01, 6)]))
                     .convex_hull)
    geoms += [shapely.Polygon([(51.526999, 0.0000123), (51.526999, 1.0), (52.0, 1.0), (51.526999, 0.0000123)]),
              shapely.Polygon([(-0.00001, -0.00002), (0.00003, 0.0), (0.0, 0.00004), (-0.00001, -0.00002)]),
              shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 3, 3)),  # a hole
              shapely.MultiPolygon([shapely.box(0.1, 0.2, 0.3, 0.4), shapely.box(1.123456789, 2, 3, 4.987654321)]),
              shapely.box(-5.0, 50.0, -4.0, 51.0)]
    geoms = np.asarray(geoms, dtype=object)
    for decimals in (3, 4, 5, 6, 7):
        assert geometries_as_json(geoms, decimals) == _reference(geoms, decimals), decimals
