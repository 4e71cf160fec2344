"""Tables of a (Geo)DataFrame in PostgreSQL, written with COPY and read back with the same types.

A frame is written as one table: each column in its SQL type (whole numbers ``bigint``,
decimals ``double precision``, true/false ``boolean``, text ``text``), the geometry (if any) as
PostGIS ``geometry(Geometry, 4326)`` sent as hex EWKB with a GiST index, and ``_order``, the
row's position, so rows come back in the order they were written. The frame's Arrow schema
(which carries pandas' column types, such as nullable integers) is kept in
``gapmap.frames``; reading casts the rows back to it, so a frame read from PostgreSQL equals the
frame read from the folder store's Parquet file. Bulk loads use ``COPY ... FROM STDIN`` in
CSV, in batches, so memory does not grow with the table; reads use ``COPY ... TO STDOUT``.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

SRID = 4326
CATALOG = "gapmap"
BATCH_ROWS = 200_000
CATALOG_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {CATALOG};
CREATE TABLE IF NOT EXISTS {CATALOG}.frames (
    schema_name text NOT NULL,
    table_name text NOT NULL,
    arrow_schema bytea NOT NULL,
    columns jsonb NOT NULL,
    geometry text,
    PRIMARY KEY (schema_name, table_name)
);
"""


def _sql():
    from psycopg import sql

    return sql


def sql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return sql_type(arrow_type.value_type)
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "text"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    raise TypeError(f"cannot keep a column of type {arrow_type} in PostgreSQL")


def _csv_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type a column is parsed as from PostgreSQL's CSV, before the cast to its own type."""
    if pa.types.is_dictionary(arrow_type) or pa.types.is_null(arrow_type):
        return pa.large_string()
    if pa.types.is_integer(arrow_type):
        return pa.int64()
    if pa.types.is_floating(arrow_type):
        return pa.float64()
    if pa.types.is_string(arrow_type):
        return pa.large_string()
    return arrow_type


def _split(frame: pd.DataFrame) -> tuple[pa.Table, str | None, np.ndarray | None]:
    geometry = None
    if hasattr(frame, "geometry") and "geometry" in frame.columns:
        geometry = "geometry"
    plain = pd.DataFrame(frame.drop(columns=[geometry]) if geometry else frame)
    table = pa.Table.from_pandas(plain, preserve_index=False)
    wkb = None
    if geometry:
        import shapely

        geoms = shapely.set_srid(np.asarray(frame[geometry].values, dtype=object), SRID)
        wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    return table, geometry, wkb


def write_frame(conn, schema: str, table: str, frame: pd.DataFrame, indexes: tuple[str, ...] = ()) -> None:
    """Create ``schema.table`` from ``frame`` and fill it by COPY (inside the caller's transaction)."""
    sql = _sql()
    arrow, geometry, wkb = _split(frame)
    names = arrow.schema.names
    columns = [sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(sql_type(f.type))) for f in arrow.schema]
    if geometry:
        columns.append(sql.SQL("{} geometry(Geometry, {})").format(sql.Identifier(geometry), sql.Literal(SRID)))
    columns.append(sql.SQL("_order bigint NOT NULL"))
    target = sql.Identifier(schema, table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(columns)))
    copy_names = names + ([geometry] if geometry else []) + ["_order"]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, copy_names)))
    as_text = {f.name: f.type.value_type for f in arrow.schema if pa.types.is_dictionary(f.type)}
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for start in range(0, max(arrow.num_rows, 1), BATCH_ROWS):
            part = arrow.slice(start, BATCH_ROWS)
            if part.num_rows == 0:
                break
            arrays = [part[n].cast(as_text[n]) if n in as_text else part[n] for n in names]
            if geometry:
                arrays.append(pa.array(wkb[start:start + part.num_rows], pa.string()))
            arrays.append(pa.array(np.arange(start, start + part.num_rows, dtype=np.int64)))
            buffer = io.BytesIO()
            pacsv.write_csv(pa.table(arrays, names=copy_names), buffer,
                            write_options=pacsv.WriteOptions(include_header=False))
            copy.write(buffer.getvalue())
    for column in indexes:
        conn.execute(sql.SQL("CREATE INDEX ON {} ({})").format(target, sql.Identifier(column)))
    if geometry:
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(target, sql.Identifier(geometry)))
    conn.execute(sql.SQL("CREATE INDEX ON {} (_order)").format(target))
    import json

    order = list(frame.columns)
    conn.execute(f"INSERT INTO {CATALOG}.frames (schema_name, table_name, arrow_schema, columns, geometry) "
                 f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (schema_name, table_name) DO UPDATE SET "
                 f"arrow_schema = EXCLUDED.arrow_schema, columns = EXCLUDED.columns, geometry = EXCLUDED.geometry",
                 (schema, table, arrow.schema.serialize().to_pybytes(), json.dumps(order), geometry))
    conn.execute(sql.SQL("ANALYZE {}").format(target))


class FrameInfo:
    """What ``gapmap.frames`` says about one stored table."""

    def __init__(self, arrow_schema: pa.Schema, columns: list[str], geometry: str | None):
        self.arrow_schema = arrow_schema
        self.columns = columns
        self.geometry = geometry


def frame_info(conn, schema: str, table: str) -> FrameInfo | None:
    row = conn.execute(f"SELECT arrow_schema, columns, geometry FROM {CATALOG}.frames "
                       f"WHERE schema_name = %s AND table_name = %s", (schema, table)).fetchone()
    if row is None:
        return None
    return FrameInfo(pa.ipc.read_schema(pa.py_buffer(bytes(row[0]))), list(row[1]), row[2])


def read_frame(conn, schema: str, table: str, info: FrameInfo, columns: list[str] | None = None,
               where=None, geometry: bool = True) -> pd.DataFrame:
    """Rows of ``schema.table`` (``where``: a psycopg ``sql.Composable`` condition), in written order,
    with the types they were written with; a GeoDataFrame in EPSG:4326 when geometry is read."""
    sql = _sql()
    wanted = list(columns) if columns is not None else [c for c in info.columns if c != info.geometry]
    with_geometry = geometry and info.geometry is not None
    if with_geometry and info.geometry not in wanted:
        wanted = wanted + [info.geometry] if columns is not None else list(info.columns)
    plain = [c for c in wanted if c != info.geometry]
    select = [sql.Identifier(c) for c in plain]
    if with_geometry:
        select.append(sql.SQL("encode(ST_AsBinary({}), 'hex') AS {}").format(
            sql.Identifier(info.geometry), sql.Identifier(info.geometry)))
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select) if select else sql.SQL("1 AS _none"),
                                                sql.Identifier(schema, table))
    if where is not None:
        query += sql.SQL(" WHERE ") + where
    query += sql.SQL(" ORDER BY _order")
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)) as copy:
        for data in copy:
            buffer.write(data)
    fields = {f.name: f for f in info.arrow_schema}
    types = {c: _csv_type(fields[c].type) for c in plain}
    if with_geometry:
        types[info.geometry] = pa.large_string()
    buffer.seek(0)
    parsed = pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(block_size=16 << 20),
                            convert_options=pacsv.ConvertOptions(
                                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
                                true_values=["t"], false_values=["f"], null_values=[""]))
    target = pa.schema([fields[c] for c in plain], metadata=info.arrow_schema.metadata)
    arrays = []
    for field in target:
        column = parsed[field.name]
        if pa.types.is_null(field.type):
            arrays.append(pa.nulls(len(column)))
        else:
            arrays.append(column.cast(field.type))
    frame = pa.table(arrays, schema=target).to_pandas() if plain else pd.DataFrame(index=range(parsed.num_rows))
    if not with_geometry:
        return frame
    import geopandas as gpd
    import shapely

    hexes = parsed[info.geometry].to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(hexes)
    frame.insert(wanted.index(info.geometry), info.geometry, gpd.GeoSeries(geoms, crs=f"EPSG:{SRID}"))
    return gpd.GeoDataFrame(frame, geometry=info.geometry, crs=f"EPSG:{SRID}")


__all__ = ["CATALOG", "CATALOG_DDL", "FrameInfo", "frame_info", "read_frame", "write_frame", "sql_type"]
