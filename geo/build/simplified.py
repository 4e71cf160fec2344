"""LSOA polygons simplified for the map, once per build: for each level a map opens at (ward,
place, ICB, England) all of England's LSOAs simplified together as one coverage
(``shapely.coverage_simplify``: an edge two LSOAs share is simplified once, so neighbours keep one
border and no gaps or overlaps appear). Kept beside the full polygons in the store's
``lsoas_simplified_<level>`` tables; maps read them, exports read the full polygons.
"""
from __future__ import annotations

import numpy as np
import shapely

from geo.store.folder import SIMPLIFIED_LEVELS as LEVELS, simplified_table_name

SIMPLIFY_DEGREES = {"ward": 0.00005, "lad": 0.0001, "icb": 0.0002, "england": 0.003}
DECIMALS = {"ward": 5, "lad": 5, "icb": 4, "england": 3}  # ~1 m to ~100 m: under a pixel at the zoom each opens at


def coverage_simplify(geometries, level: str) -> np.ndarray:
    """``geometries`` (a coverage: polygons that meet only along edges) simplified together with
    the tolerance of ``level``, in degrees."""
    return shapely.coverage_simplify(np.asarray(geometries, dtype=object), SIMPLIFY_DEGREES[level])


def simplified_tables(lsoas) -> dict:
    """{table name: GeoDataFrame} for each of :data:`LEVELS`: one row per LSOA with ``lsoa21cd``,
    ``ward24cd``, ``lad24cd``, ``icb24cd`` (to read one extent's rows) and its polygon simplified
    for that level (EPSG:4326)."""
    import geopandas as gpd

    codes = {c: lsoas[c].to_numpy() for c in ("lsoa21cd", "ward24cd", "lad24cd", "icb24cd")}
    geometries = np.asarray(lsoas.geometry.values, dtype=object)
    return {simplified_table_name(level): gpd.GeoDataFrame(codes, geometry=coverage_simplify(geometries, level),
                                                           crs=lsoas.crs)
            for level in LEVELS}
