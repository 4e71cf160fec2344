"""Polygons as a map at a given level draws them: simplified together as one coverage, so
neighbouring LSOAs keep a shared border, with the coordinate precision each level opens at."""
from __future__ import annotations

import numpy as np
import shapely

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
