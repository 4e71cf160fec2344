"""Schools, GP practices and hospitals as points in LSOAs.

Each function returns ``(points, report)``: ``points`` is a GeoDataFrame in EPSG:4326 with the
LSOA found by point-in-polygon; ``report`` lists every input row that is not a usable point in
England, or whose location disagrees with its publisher's, with a ``reason``. Every input row is
either in ``points`` or in ``report`` (rows in ``points`` may also be in ``report`` when a check
failed, with ``used`` true).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.sources.postcodes import normalise_postcode, postcode_area

BNG = 27700  # British National Grid: GIAS and Code-Point Open coordinates
WGS84 = 4326


def _report(frame: pd.DataFrame, id_columns: list[str], reason: pd.Series, used: bool | pd.Series) -> pd.DataFrame:
    out = frame[id_columns].copy()
    out["reason"] = reason.values if isinstance(reason, pd.Series) else reason
    out["used"] = used.values if isinstance(used, pd.Series) else used
    return out


def locate_in_lsoas(points: gpd.GeoSeries, lsoas: gpd.GeoDataFrame) -> pd.Series:
    """LSOA 2021 code containing each point (missing where none does); points on a shared edge
    take the first LSOA in ``lsoas``' order."""
    tree = shapely.STRtree(lsoas.geometry.values)
    point_idx, poly_idx = tree.query(points.values, predicate="intersects")
    found = pd.Series(pd.NA, index=points.index, dtype="string")
    if len(point_idx):
        first = pd.DataFrame({"p": point_idx, "g": poly_idx}).drop_duplicates("p")
        found.iloc[first["p"].to_numpy()] = lsoas["lsoa21cd"].to_numpy()[first["g"].to_numpy()]
    return found


def schools(gias: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """GIAS establishments placed from Easting/Northing (EPSG:27700), checked against GIAS's LSOA."""
    gias = gias.reset_index(drop=True)
    has_xy = gias["easting"].notna() & gias["northing"].notna() & (gias["easting"] > 0) & (gias["northing"] > 0)
    located = gias[has_xy].copy()
    geometry = gpd.GeoSeries(gpd.points_from_xy(located["easting"], located["northing"]), index=located.index,
                             crs=BNG).to_crs(WGS84)
    located["lsoa21cd"] = locate_in_lsoas(geometry, lsoas)
    lad_of = lsoas.set_index("lsoa21cd")["lad24cd"]
    located["lad24cd"] = located["lsoa21cd"].map(lad_of)
    located["lad24cd_gias"] = located["lsoa21cd_gias"].map(lad_of)
    in_england = located["lsoa21cd"].notna()
    points = gpd.GeoDataFrame(located[in_england], geometry=geometry[in_england], crs=WGS84)

    ids = ["urn", "name", "la_name", "lsoa21cd_gias"]
    parts = [
        _report(gias[~has_xy], ids, "no coordinates in GIAS", False),
        _report(located[~in_england], ids, "outside every English LSOA (Wales, or off the coast)", False),
    ]
    differs = in_england & (located["lsoa21cd"] != located["lsoa21cd_gias"]).fillna(True)
    other_lad = differs & (located["lad24cd"] != located["lad24cd_gias"]).fillna(True)
    reason = np.where(other_lad[differs],
                      "in LSOA " + located.loc[differs, "lsoa21cd"].astype(str) + " of another LAD than GIAS's LSOA",
                      "in LSOA " + located.loc[differs, "lsoa21cd"].astype(str) + ", GIAS says another LSOA of the same LAD")
    parts.append(_report(located[differs], ids, pd.Series(reason), True))
    report = pd.concat(parts, ignore_index=True)
    keep = ["urn", "name", "phase", "establishment_type", "establishment_type_group", "pupils", "fsm_percent",
            "la_name", "lsoa21cd", "lsoa21cd_gias", "lad24cd", "geometry"]
    return points[keep].reset_index(drop=True), report


def postcode_lsoas(codepoint: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every Code-Point Open postcode with a position, and the English LSOA 2021 it falls in.

    ``key`` is the normalised postcode; ``lsoa21cd`` is missing for postcodes outside England.
    Postcodes with positional quality 90 (no coordinates) are left out.
    """
    codes = codepoint.assign(key=normalise_postcode(codepoint["postcode"]))
    codes = codes[codes["positional_quality"] < 90].drop_duplicates("key").reset_index(drop=True)
    geometry = gpd.GeoSeries(gpd.points_from_xy(codes["easting"], codes["northing"]), crs=BNG).to_crs(WGS84)
    out = gpd.GeoDataFrame(codes[["postcode", "key", "easting", "northing", "positional_quality"]],
                           geometry=geometry, crs=WGS84)
    out["lsoa21cd"] = locate_in_lsoas(out.geometry, lsoas)
    out["area"] = postcode_area(out["key"])
    return out


def gp_practices(epraccur: pd.DataFrame, postcodes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Active GP practices (status A, prescribing setting 4) placed at their postcode.

    ``postcodes`` is the table from :func:`postcode_lsoas`.
    """
    practices = epraccur.reset_index(drop=True)
    active = practices["status"] == "A"
    gp_setting = pd.to_numeric(practices["prescribing_setting"], errors="coerce") == 4
    ids = ["practice_code", "name", "postcode"]
    parts = [
        _report(practices[~active], ids, "not an active organisation (ODS status " +
                practices.loc[~active, "status"].astype(str) + ")", False),
        _report(practices[active & ~gp_setting], ids, "not a GP practice (ODS prescribing setting " +
                practices.loc[active & ~gp_setting, "prescribing_setting"].astype(str) + ")", False),
    ]
    chosen = practices[active & gp_setting].copy()
    chosen["key"] = normalise_postcode(chosen["postcode"])
    table = postcodes.set_index("key")
    found = chosen["key"].isin(table.index)
    area = postcode_area(chosen["key"])
    areas_read = set(postcodes["area"].dropna())
    reason = np.where(area[~found].isin(areas_read),
                      "postcode not in Code-Point Open (terminated or mistyped?)",
                      "postcode area " + area[~found].fillna("?").astype(str) + " not in the Code-Point Open files read")
    parts.append(_report(chosen[~found], ids, pd.Series(reason), False))
    placed = chosen[found].copy()
    placed["lsoa21cd"] = placed["key"].map(table["lsoa21cd"])
    geometry = gpd.GeoSeries(placed["key"].map(table.geometry), index=placed.index, crs=WGS84)
    outside = placed["lsoa21cd"].isna()
    parts.append(_report(placed[outside], ids, "postcode lies outside every English LSOA", False))
    result = gpd.GeoDataFrame(placed[~outside], geometry=geometry[~outside], crs=WGS84)
    keep = ["practice_code", "name", "postcode", "commissioner", "lsoa21cd", "geometry"]
    return result[keep].reset_index(drop=True), pd.concat(parts, ignore_index=True)


def hospitals(listing: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Hospitals from name and longitude/latitude; exact duplicate rows are listed and dropped."""
    listing = listing.reset_index(drop=True)
    duplicate = listing.duplicated(["name", "longitude", "latitude"])
    no_xy = listing["longitude"].isna() | listing["latitude"].isna()
    ids = ["name", "longitude", "latitude"]
    parts = [_report(listing[duplicate], ids, "exact duplicate of an earlier row", False),
             _report(listing[no_xy & ~duplicate], ids, "no coordinates", False)]
    chosen = listing[~duplicate & ~no_xy].copy()
    geometry = gpd.GeoSeries(gpd.points_from_xy(chosen["longitude"], chosen["latitude"]), index=chosen.index,
                             crs=WGS84)
    chosen["lsoa21cd"] = locate_in_lsoas(geometry, lsoas)
    outside = chosen["lsoa21cd"].isna()
    parts.append(_report(chosen[outside], ids, "outside every English LSOA", False))
    points = gpd.GeoDataFrame(chosen[~outside], geometry=geometry[~outside], crs=WGS84)
    points["lad24cd"] = points["lsoa21cd"].map(lsoas.set_index("lsoa21cd")["lad24cd"])
    return points[["name", "lsoa21cd", "lad24cd", "geometry"]].reset_index(drop=True), pd.concat(parts, ignore_index=True)
