"""Ward, place (LAD) and ICB polygons dissolved from LSOA 2021 polygons.

Areas are built from the LSOAs that the best-fit lookups assign to them, so an area's outline
follows its LSOAs exactly and neighbouring areas share their borders: what a map shows for a
ward or a place is always the union of the LSOAs counted in it. The super-generalised LSOA
polygons meet with tiny misnoded gaps in a few places (under 2 m\u00b2); interior rings smaller
than :data:`SLIVER_M2` left by those are filled, so no area has pin-hole slivers.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SLIVER_M2 = 100.0
AREA_CRS = 27700  # British National Grid, for areas in square metres


def fill_slivers(geoms: np.ndarray, crs, max_hole_m2: float = SLIVER_M2) -> np.ndarray:
    """Remove interior rings with an area under ``max_hole_m2`` (measured in EPSG:27700)."""
    out = np.empty(len(geoms), dtype=object)
    for i, geom in enumerate(geoms):
        if geom is None or shapely.get_num_interior_rings(shapely.get_parts(geom)).sum() == 0:
            out[i] = geom
            continue
        polygons = []
        for part in shapely.get_parts(geom):
            holes = [shapely.get_interior_ring(part, k) for k in range(shapely.get_num_interior_rings(part))]
            keep = []
            if holes:
                areas = gpd.GeoSeries([shapely.Polygon(h) for h in holes], crs=crs).to_crs(AREA_CRS).area.to_numpy()
                keep = [h for h, a in zip(holes, areas) if a >= max_hole_m2]
            polygons.append(shapely.Polygon(shapely.get_exterior_ring(part), keep))
        out[i] = shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]
    return out


def dissolve(lsoas: gpd.GeoDataFrame, code: str, first_columns: list[str]) -> gpd.GeoDataFrame:
    """One polygon per value of ``code``, with ``first_columns`` taken from its first LSOA and the
    number of LSOAs in ``lsoas``."""
    frame = lsoas[[code, *first_columns, "geometry"]]
    merged = frame.dissolve(by=code, aggfunc="first", sort=True)
    merged["lsoas"] = lsoas.groupby(code).size()
    merged["geometry"] = fill_slivers(merged.geometry.values, merged.crs)
    merged = merged.reset_index()
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=lsoas.crs)


def area_km2(frame: gpd.GeoDataFrame) -> pd.Series:
    return frame.geometry.to_crs(AREA_CRS).area / 1e6


def overlap_with_official(built: gpd.GeoDataFrame, official: gpd.GeoDataFrame, code: str,
                          official_code: str) -> pd.DataFrame:
    """Share of each built area that the official outline of the same code covers, and back.

    Returns code, ``built_in_official`` and ``official_in_built`` (0..1), both in EPSG:27700;
    areas without an official outline get missing values.
    """
    a = built[[code, "geometry"]].to_crs(AREA_CRS).set_index(code).geometry
    extra = [c for c in official.columns if c not in (official_code, "geometry")]
    b = official[[official_code, "geometry"]].to_crs(AREA_CRS).set_index(official_code).geometry
    common = a.index.intersection(b.index)
    inter = shapely.area(shapely.intersection(a.loc[common].values, b.loc[common].values))
    out = pd.DataFrame({code: a.index})
    out = out.set_index(code)
    out["built_in_official"] = pd.Series(inter / shapely.area(a.loc[common].values), index=common)
    out["official_in_built"] = pd.Series(inter / shapely.area(b.loc[common].values), index=common)
    out = out.reset_index()
    if extra:  # carry what identifies the official outline (such as its own code)
        out = out.merge(official[[official_code, *extra]].drop_duplicates(official_code),
                        left_on=code, right_on=official_code, how="left")
    return out
