"""GeoJSON geometry text written in bulk, with coordinates rounded (and optionally delta-encoded)."""
from __future__ import annotations

import json

import numpy as np
import shapely


def geometries_as_json(geoms: np.ndarray, decimals: int, delta: bool = False) -> list[str]:
    """(Multi)polygons as GeoJSON geometry text with coordinates rounded to ``decimals``.

    With ``delta``, each geometry is ``{"q":[parts]}``: every ring a flat list of integers (the
    coordinates times 10^decimals), the first point absolute and the rest as differences from the
    point before, which the page decodes (``decodeRings``): about a third of the bytes.
    """
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


SIMPLIFY_DEGREES = {"ward": 0.00005, "lad": 0.0001, "icb": 0.0002, "england": 0.003}
DECIMALS = {"ward": 5, "lad": 5, "icb": 4, "england": 3}  # ~1 m to ~100 m: under a pixel at the zoom each opens at


def simplify(frame, level: str):
    """Simplify the polygons together so neighbours keep a shared border. Coordinates are rounded
    when written (``decimals`` in ``frame.attrs``), alike for shared vertices, so borders stay shared."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    frame = frame.copy()
    frame["geometry"] = shapely.coverage_simplify(geoms, SIMPLIFY_DEGREES[level])
    frame.attrs["decimals"] = DECIMALS[level]
    return frame
