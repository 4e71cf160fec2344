"""GeoJSON geometry text written in bulk, with coordinates rounded (and optionally delta-encoded)."""
from __future__ import annotations

import json
import re

import numpy as np
import shapely


def geometries_as_json(geoms: np.ndarray, decimals: int, delta: bool = False) -> list[str]:
    """(Multi)polygons as GeoJSON geometry text with coordinates rounded to ``decimals``.

    With ``delta``, each geometry is ``{"q":[parts]}``: every ring a flat list of integers (the
    coordinates times 10^decimals), the first point absolute and the rest as differences from the
    point before, which the page decodes (``project`` in static/js/gapmap-canvas.js): about a third
    of the bytes.
    """
    if not delta:
        return _rounded_geojson(geoms, decimals)
    kind, coords, offsets = shapely.to_ragged_array(shapely.force_2d(geoms))
    ring_ends, part_ends = offsets[0], offsets[1]
    if delta:
        q = np.round(coords * 10 ** decimals).astype(np.int64)
        d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        starts = ring_ends[:-1]
        d[starts] = q[starts]  # each ring starts from an absolute point
        flat = d.ravel().tolist()
        rings = [flat[2 * ring_ends[i]:2 * ring_ends[i + 1]] for i in range(len(ring_ends) - 1)]
    else:
        values = np.round(coords, decimals).tolist()
        rings = [values[ring_ends[i]:ring_ends[i + 1]] for i in range(len(ring_ends) - 1)]
    parts = [rings[part_ends[i]:part_ends[i + 1]] for i in range(len(part_ends) - 1)]
    if len(offsets) > 2:
        geom_ends = offsets[2]
        grouped = [parts[geom_ends[i]:geom_ends[i + 1]] for i in range(len(geom_ends) - 1)]
    else:
        grouped = [[part] for part in parts]
    if delta:
        return ['{"q":' + json.dumps(g, separators=(",", ":")) + "}" for g in grouped]
    return ['{"type":"MultiPolygon","coordinates":' + json.dumps(g, separators=(",", ":")) + "}" for g in grouped]


_POLYGON = '{"type":"Polygon","coordinates":'
_LONG_NUMBER = re.compile(r"-?\d+\.\d{7,}(?:e-?\d+)?|-?\d+(?:\.\d+)?e-?\d+")


def _rounded_geojson(geoms: np.ndarray, decimals: int) -> list[str]:
    """The text ``json.dumps`` would give for the rounded coordinates (Python's shortest repr of
    each), every geometry as a MultiPolygon, written by GEOS in C: the coordinates are rounded in
    one vectorised pass, GEOS writes them, and the few numbers it writes with 17 significant digits
    (51.526999000000004 for the double nearest 51.526999) or as exponents are rewritten as Python's repr."""
    rounded = shapely.transform(shapely.force_2d(geoms), lambda c: np.round(c, decimals))
    texts = shapely.to_geojson(rounded).tolist()
    kinds = shapely.get_type_id(rounded)

    def fix(match):
        return repr(round(float(match.group(0)), decimals))

    out = []
    for text, kind in zip(texts, kinds):
        if kind == 3:  # Polygon: one part of a MultiPolygon
            text = '{"type":"MultiPolygon","coordinates":[' + text[len(_POLYGON):-1] + "]}"
        elif kind != 6:
            raise ValueError("only polygons and multipolygons are written")
        if "0000000" in text or "9999999" in text or "e-" in text:  # (a 17-digit double near a rounded one)
            text = _LONG_NUMBER.sub(fix, text)  # a regular expression over every text would take seconds
        out.append(text)
    return out
