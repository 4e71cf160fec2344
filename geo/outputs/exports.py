"""Exports of what a map shows: GeoJSON (RFC 7946), GeoPackage and CSV, with their metadata.

``export_table`` gives, for an indicator over an extent, the map table (:mod:`geo.views.map_table`): every
attribute the map shows per LSOA (value and interval, class, local Moran cluster, Gi* bin,
bivariate class and IMD deciles), with disclosure control applied to counts from activity
datasets before anything is derived. Every file carries the metadata:
indicator, period, method, classification, source attribution and licence, the disclosure rule,
and a synthetic-data warning where it applies. File names say what is inside.

Fields are named by what they hold (:mod:`geo.outputs.field_names`: ``rate_per_100000``,
``events_published``, ``quantile_class``, ``gi_star_z``, ``hot_spot_level``...), and every file
carries its data dictionary (``meta["fields"]``, field -> what it holds): in the GeoJSON's
``metadata.fields``, as ``# field NAME: ...`` lines under the CSV, and in a GeoPackage as a
``fields`` layer and the columns' descriptions (``gpkg_data_columns``, which GDAL reads as field
comments and QGIS shows).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidValue
from geo.outputs import field_names
from geo.outputs.cell_text import neutralise  # (also exports.neutralise, as before)
from geo.views import analysis
from geo.views.map_table import group_table, map_table, with_geometry, with_wkb

FORMATS = ("geojson", "gpkg", "csv")
GEOMETRY_OF = {"geojson": True, "gpkg": "wkb", "csv": False}  # the polygons each format needs (export_table)
LICENCE = "Open Government Licence v3.0"


def export_table(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5,
                 geometry: bool | str = True):
    """The map table (:func:`geo.views.map_table.map_table`: disclosure control applied there, before
    anything is derived) with the full LSOA polygons, its fields named by what they hold
    (:func:`geo.outputs.field_names.rename`), and its metadata with the data dictionary
    (``meta["fields"]``). ``geometry="wkb"``: the polygons as the store keeps them (WKB bytes, for a
    GeoPackage, which takes them as they are); False: none."""
    table = map_table(store, indicator, extent, scheme, k)
    if geometry == "wkb":
        frame = with_wkb(table, store, extent)
    else:
        frame = with_geometry(table, store, extent, simplified=False) if geometry else table.frame.copy()
    frame = field_names.rename(frame, indicator, table.meta, scheme)
    meta = dict(table.meta)
    meta["fields"] = field_names.dictionary(frame.columns, indicator, meta, scheme)
    return frame, meta


def file_name(indicator: str, extent: analysis.Extent, extension: str, today: dt.date | None = None) -> str:
    place = extent.level if extent.level == "england" else f"{extent.level}-{extent.code}"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", f"gapmap_{place}_{indicator}")
    return f"{safe}_{(today or dt.date.today()).isoformat()}.{extension}"


def to_geojson(frame, meta: dict, decimals: int = 6) -> str:
    """RFC 7946: WGS84 longitude/latitude, right-hand (counter-clockwise) exteriors, no crs member;
    the metadata rides in a foreign member ``metadata``. Written in bulk: ten-second England."""
    from geo.outputs.geojson_text import geometries_as_json

    geoms = shapely.orient_polygons(np.asarray(frame.geometry.values, dtype=object), exterior_cw=False)
    geometries = geometries_as_json(geoms, decimals)
    properties = frame.drop(columns="geometry")
    lines = properties.to_json(orient="records", lines=True, double_precision=6, force_ascii=False).splitlines()
    features = ",".join('{"type":"Feature","properties":' + props + ',"geometry":' + geom + "}"
                        for props, geom in zip(lines, geometries))
    return ('{"type":"FeatureCollection","metadata":' + json.dumps(meta, default=str) + ',"features":[' +
            features + "]}")


def to_csv(frame, meta: dict) -> str:
    table = frame.drop(columns="geometry", errors="ignore").copy()
    for column in table.columns:
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column].dtype):  # pandas 3: "str"
            table[column] = table[column].map(neutralise)
    lines = table.to_csv(index=False)
    return lines + metadata_lines(meta)


def metadata_lines(meta: dict) -> str:
    """The metadata as CSV lines under the table, one ``# key: value`` cell per line. Each cell is
    quoted and kept to one line, so a value holding commas, quotes or line breaks cannot start a
    cell of its own, and a cell that would start a formula is neutralised."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    lines = [f"# {key}: {value}" for key, value in meta.items() if key != "fields"]
    lines += [f"# field {name}: {text}" for name, text in (meta.get("fields") or {}).items()]  # the data dictionary
    for line in lines:
        writer.writerow([neutralise(" ".join(line.split()))])  # line breaks and tabs become spaces
    return out.getvalue()


def write(frame, meta: dict, fmt: str, out_dir: Path, indicator: str, extent: analysis.Extent) -> Path:
    if fmt not in FORMATS:
        raise InvalidValue(f"format must be one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(indicator, extent, fmt)
    if fmt == "geojson":
        path.write_text(to_geojson(frame, meta))
    elif fmt == "csv":
        path.write_text(to_csv(frame, meta))
    else:
        import pyogrio

        layer = frame.copy()
        for column in layer.columns:
            if column != "geometry" and layer[column].dtype == object:
                layer[column] = layer[column].astype("string")
        if path.exists():
            path.unlink()
        # the attribution and method where QGIS shows them: the layer's description (gpkg_contents)
        description = " ".join(str(meta.get(k)) for k in ("warning", "measure", "unit", "disclosure", "attribution",
                                                          "licence") if meta.get(k))
        options = {"DESCRIPTION": description[:2000]}
        import geopandas as gpd

        kind = None if isinstance(layer, gpd.GeoDataFrame) else _wkb_kind(layer["geometry"])
        if kind is not None:  # the polygons as WKB of one kind (export_table(geometry="wkb")): never decoded
            _write_wkb_layer(layer, path, kind, options)
        else:
            if not isinstance(layer, gpd.GeoDataFrame):  # WKB of mixed kinds: decoded, as GDAL promotes them
                layer = gpd.GeoDataFrame(layer.drop(columns="geometry"), crs=layer.attrs.get("crs"),
                                         geometry=gpd.GeoSeries.from_wkb(layer["geometry"]))
            # use_arrow: the rows go to GDAL as one Arrow stream, not field by field (half the time on England)
            pyogrio.write_dataframe(layer, path, layer="lsoas", driver="GPKG", use_arrow=True, layer_options=options)
        notes = {k: v for k, v in meta.items() if k != "fields"}
        pyogrio.write_dataframe(pd.DataFrame({"key": list(notes), "value": [str(v) for v in notes.values()]}),
                                path, layer="metadata", driver="GPKG", append=True)
        fields = meta.get("fields") or {}
        pyogrio.write_dataframe(pd.DataFrame({"field": list(fields), "description": list(fields.values())}),
                                path, layer="fields", driver="GPKG", append=True)
        describe_columns(path, "lsoas", fields)
    return path


WKB_KINDS = {3: "Polygon", 6: "MultiPolygon"}  # 2D WKB geometry type codes


def _wkb_kind(wkb: pd.Series) -> str | None:
    """The one geometry type of every WKB value (read from its header), or None when they differ,
    are missing or are not 2D polygons."""
    kinds = set()
    for value in wkb:
        if not isinstance(value, (bytes, bytearray)) or len(value) < 5:
            return None
        kinds.add(int.from_bytes(value[1:5], "little" if value[0] == 1 else "big"))
        if len(kinds) > 1:
            return None
    return WKB_KINDS.get(kinds.pop()) if kinds else None


def _write_wkb_layer(frame: pd.DataFrame, path: Path, kind: str, layer_options: dict) -> None:
    """The LSOA layer from a frame whose ``geometry`` holds WKB of one ``kind`` (``attrs["crs"]``),
    as one Arrow stream: the same GeoPackage as writing the decoded polygons."""
    import pyarrow as pa
    import pyogrio

    table = pa.Table.from_pandas(frame.drop(columns="geometry"), preserve_index=False)
    table = table.append_column("geometry", pa.array(frame["geometry"].tolist(), type=pa.binary()))
    pyogrio.write_arrow(table, path, layer="lsoas", driver="GPKG", geometry_name="geometry",
                        geometry_type=kind, crs=frame.attrs.get("crs") or "EPSG:4326",
                        layer_options=layer_options)


def describe_columns(path: Path, layer: str, fields: dict) -> None:
    """Each column's description in the GeoPackage's schema extension (``gpkg_data_columns``),
    which GDAL reads as the field's comment and QGIS shows beside the field."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT "
                   "NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
                   "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE "
                   "(table_name, name))")
        db.execute("CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
                   "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, "
                   "max_is_inclusive BOOLEAN, description TEXT, CONSTRAINT gdcc_ntv UNIQUE (constraint_name, "
                   "constraint_type, value))")
        db.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name "
                   "TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE "
                   "(table_name, column_name, extension_name))")
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            if db.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = 'gpkg_schema'",
                          (table,)).fetchone() is None:
                db.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', "
                           "'http://www.geopackage.org/spec121/#extension_schema', 'read-write')", (table,))
        db.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, description) "
                       "VALUES (?, ?, ?, ?)", [(layer, name, name, text) for name, text in fields.items() if text])


def ward_table(store, indicator: str, extent: analysis.Extent):
    """The wards of the extent: MHCLG deprivation summaries, the indicator's mean over the ward's
    LSOAs that have a published value, and for activity datasets the count and rates, with the
    secondary suppression of :func:`geo.views.map_table.group_table` (no suppressed LSOA can be found by
    subtracting the ward's other LSOAs from its total)."""
    table = map_table(store, indicator, extent)
    frame, meta = table.frame, dict(table.meta)
    wards = frame.groupby(["ward24cd", "ward24nm"], sort=True).agg(
        lsoas=("lsoa21cd", "size"), mean_value=("value", "mean"), lsoas_with_value=("value", "count"),
        core20_lsoas=("core20", "sum")).reset_index()
    codes = set(wards["ward24cd"])
    summaries = store.areas("ward")
    summaries = summaries[summaries["ward24cd"].isin(codes)].drop(columns=["ward24nm", "lsoas"], errors="ignore")
    wards = wards.merge(summaries.rename(columns={"population": field_names.SUMMARY_POPULATION}), on="ward24cd",
                        how="left")
    if "count" in frame:  # an activity dataset
        rates = group_table(store, indicator, extent, "ward24cd").rename(columns={"group": "ward24cd"})
        wards = wards.merge(rates, on="ward24cd", how="left")
        if rates.attrs.get("note"):
            meta["ward_totals"] = rates.attrs["note"]
    wards = field_names.rename(wards, indicator, meta)
    meta["fields"] = field_names.dictionary(wards.columns, indicator, meta, level="ward")
    return wards, meta
