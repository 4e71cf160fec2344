"""Exports of what a map shows: GeoJSON (RFC 7946), GeoPackage and CSV, with their metadata.

``export_table`` gives, for an indicator over an extent, the map table (:mod:`geo.views.map_table`): every
attribute the map shows per LSOA (value and interval, class, local Moran cluster, Gi* bin,
bivariate class and IMD deciles), with disclosure control applied to counts from activity
datasets before anything is derived. Every file carries the metadata:
indicator, period, method, classification, source attribution and licence, the disclosure rule,
and a synthetic-data warning where it applies. File names say what is inside.
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
from geo.outputs.cell_text import neutralise  # (also exports.neutralise, as before)
from geo.views import analysis
from geo.views.map_table import group_table, map_table, with_geometry

FORMATS = ("geojson", "gpkg", "csv")
LICENCE = "Open Government Licence v3.0"


def export_table(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5,
                 geometry: bool = True):
    """The map table (:func:`geo.views.map_table.map_table`: disclosure control applied there, before
    anything is derived) with the full LSOA polygons, and its metadata."""
    table = map_table(store, indicator, extent, scheme, k)
    frame = with_geometry(table, store, extent, simplified=False) if geometry else table.frame.copy()
    return frame, dict(table.meta)


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
    for key, value in meta.items():
        text = " ".join(f"# {key}: {value}".split())  # line breaks and tabs become spaces
        writer.writerow([neutralise(text)])
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
        # use_arrow: the rows go to GDAL as one Arrow stream, not field by field (half the time on England)
        pyogrio.write_dataframe(layer, path, layer="lsoas", driver="GPKG", use_arrow=True,
                                layer_options={"DESCRIPTION": description[:2000]})
        pyogrio.write_dataframe(pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]}),
                                path, layer="metadata", driver="GPKG", append=True)
    return path


def ward_table(store, indicator: str, extent: analysis.Extent):
    """The wards of the extent: MHCLG deprivation summaries, the indicator's mean over the ward's
    LSOAs that have a published value, and for activity datasets the count and rates, with the
    secondary suppression of :func:`geo.views.map_table.group_table` (no suppressed LSOA can be found by
    subtracting the ward's other LSOAs from its total)."""
    frame, meta = export_table(store, indicator, extent, geometry=False)
    wards = frame.groupby(["ward24cd", "ward24nm"], sort=True).agg(
        lsoas=("lsoa21cd", "size"), mean_value=("value", "mean"), lsoas_with_value=("value", "count"),
        core20_lsoas=("core20", "sum")).reset_index()
    codes = set(wards["ward24cd"])
    summaries = store.areas("ward")
    summaries = summaries[summaries["ward24cd"].isin(codes)].drop(columns=["ward24nm", "lsoas"], errors="ignore")
    wards = wards.merge(summaries, on="ward24cd", how="left")
    if "count" in frame:  # an activity dataset
        rates = group_table(store, indicator, extent, "ward24cd").rename(columns={"group": "ward24cd"})
        wards = wards.merge(rates, on="ward24cd", how="left")
        if rates.attrs.get("note"):
            meta["ward_totals"] = rates.attrs["note"]
    return wards, meta
