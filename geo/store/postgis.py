"""The PostgreSQL/PostGIS store: the same tables and reading methods as :class:`geo.store.folder.Store`,
kept in a database that several workers, servers and analysts share.

Chosen by ``GAPMAP_DATABASE_URL`` (see :func:`geo.store.open_store`). Layout::

    gapmap.builds            one row per build kept: build id, its schema, its manifest (JSON)
    gapmap.current_build     one row: the build in use
    gapmap.frames            the Arrow schema (column types) of every stored table
    gapmap.datasets          one row per dataset: its current version, kind and metadata
    gapmap_build_<id>.*      one schema per build: lsoas, areas_ward/lad/icb, points_*, postcodes,
                             population_mid2020, population_by_sex_mid2022 (when the
                             build had the file), lsoa11_to_lsoa21 (geometry as PostGIS
                             geometry(Geometry, 4326) with a GiST index; B-tree indexes on the
                             codes the reads filter by) and report_<name> tables
    gapmap_datasets.<version>_counts | _rows | _practices   the tables of each dataset version

A build (``gapmap data build`` with the URL set, or ``gapmap data publish`` from a folder store)
is written in ONE transaction: its schema, tables, reports, manifest and the switch of
``current_build``, with older builds (all but the one before) dropped. Until it commits,
readers see the previous build; an interrupted build leaves nothing behind. Each read runs in one
transaction, so it sees one build whole. :meth:`PostgisStore.version_key` (build id plus the
version of every dataset, in one query) lets every worker key its caches on what is current.
"""
from __future__ import annotations

import contextlib
import re
import time
import uuid
from typing import TYPE_CHECKING

import pandas as pd

from geo.store.folder import CODE_COLUMN, LEVELS, POINT_KINDS, POPULATION_BY_SEX_TABLE, StoreError
from geo.store.pg import Database, DatabaseError, connect, masked
from geo.store.pg_frames import CATALOG, CATALOG_DDL, frame_info, read_frame, write_frame

if TYPE_CHECKING:
    import geopandas as gpd

DATASET_SCHEMA = "gapmap_datasets"
INDEXES = {
    "lsoas": ("lsoa21cd", "icb24cd", "lad24cd", "ward24cd"),
    "areas_ward": ("ward24cd",), "areas_lad": ("lad24cd",), "areas_icb": ("icb24cd",),
    "points_schools": ("lad24cd", "lsoa21cd"), "points_gp_practices": ("lad24cd", "lsoa21cd"),
    "points_hospitals": ("lad24cd", "lsoa21cd"),
    "postcodes": ("key",), "population_mid2020": ("lsoa21cd",), POPULATION_BY_SEX_TABLE: ("lsoa21cd",),
    "lsoa11_to_lsoa21": ("lsoa11cd",),
}
SETUP_DDL = CATALOG_DDL + f"""
CREATE TABLE IF NOT EXISTS {CATALOG}.builds (
    build_id text PRIMARY KEY,
    schema_name text NOT NULL UNIQUE,
    manifest json NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {CATALOG}.current_build (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    build_id text NOT NULL REFERENCES {CATALOG}.builds (build_id)
);
CREATE TABLE IF NOT EXISTS {CATALOG}.datasets (
    name text PRIMARY KEY,
    version text NOT NULL UNIQUE,
    kind text NOT NULL,
    meta json NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
CREATE SCHEMA IF NOT EXISTS {DATASET_SCHEMA};
"""
_SET_UP: set[str] = set()


def setup(conn) -> None:
    """Create the PostGIS extension and Gapmap's catalogue tables if they are missing (idempotent,
    safe when several processes start at once)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gapmap setup'))")
        has_postgis = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if not has_postgis:
            try:
                with conn.transaction():
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except Exception as exc:
                raise DatabaseError(f"the database needs the PostGIS extension and this user cannot create it "
                                    f"({str(exc).strip()}); ask its administrator to run "
                                    f"CREATE EXTENSION postgis") from None
        for statement in SETUP_DDL.split(";"):
            if statement.strip():
                conn.execute(statement)


def _schema_of(build_id: str) -> str:
    return "gapmap_build_" + re.sub(r"[^a-z0-9]+", "_", build_id.lower())


class PostgisWriter:
    """Writes one build into its own schema inside one transaction; :meth:`commit` makes it current."""

    def __init__(self, store: "PostgisStore", build_id: str | None = None):
        from psycopg import sql

        self.store = store
        self.build_id = build_id or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.schema = _schema_of(self.build_id)
        self._manifest: dict | None = None
        self.conn = connect(store.url, autocommit=False)
        self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))

    def table(self, name: str, frame: pd.DataFrame, sort_by: list[str] | None = None) -> None:
        if sort_by:
            frame = frame.sort_values(sort_by, kind="stable").reset_index(drop=True)
        write_frame(self.conn, self.schema, name, frame, INDEXES.get(name, ()))

    def report(self, name: str, frame: pd.DataFrame) -> None:
        write_frame(self.conn, self.schema, f"report_{name}", _as_report(frame))

    def manifest(self, data: dict) -> None:
        self._manifest = {"build_id": self.build_id, **data}

    def commit(self) -> str:
        import json

        from psycopg import sql

        if self._manifest is None:
            raise StoreError("a build needs a manifest before it is committed")
        conn = self.conn
        previous = conn.execute(f"SELECT build_id FROM {CATALOG}.current_build FOR UPDATE").fetchone()
        conn.execute(f"INSERT INTO {CATALOG}.builds (build_id, schema_name, manifest) VALUES (%s, %s, %s)",
                     (self.build_id, self.schema, json.dumps(self._manifest, default=str)))
        conn.execute(f"INSERT INTO {CATALOG}.current_build (one, build_id) VALUES (true, %s) "
                     f"ON CONFLICT (one) DO UPDATE SET build_id = EXCLUDED.build_id", (self.build_id,))
        keep = {self.build_id} | ({previous[0]} if previous else set())
        for build_id, schema in conn.execute(f"SELECT build_id, schema_name FROM {CATALOG}.builds").fetchall():
            if build_id not in keep:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                conn.execute(f"DELETE FROM {CATALOG}.frames WHERE schema_name = %s", (schema,))
                conn.execute(f"DELETE FROM {CATALOG}.builds WHERE build_id = %s", (build_id,))
        conn.commit()
        conn.close()
        return f"{masked(self.store.url)} (build {self.build_id})"

    def abort(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()

    def __enter__(self) -> "PostgisWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()  # after a commit the connection is closed and this does nothing


def _as_report(frame: pd.DataFrame) -> pd.DataFrame:
    """The report as the folder store returns it: every column text, read back from CSV."""
    import io

    return pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype=str)


class PostgisStore:
    """Reads the current build from PostgreSQL; same methods and results as the folder store."""

    def __init__(self, url: str):
        self.url = url
        self.db = Database(url)
        if url not in _SET_UP:
            setup(self.db.connection())
            _SET_UP.add(url)

    @contextlib.contextmanager
    def build_lock(self):
        """One build at a time: a session advisory lock on its own connection, held for the build;
        a second build is refused with a message, not queued."""
        conn = connect(self.url)
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtext('gapmap build'))").fetchone()[0]
            if not got:
                raise StoreError(f"Another build into {masked(self.url)} is running: wait for it to finish, then run "
                                 f"`gapmap data build` again.", http_status=409)
            yield
        finally:
            conn.close()  # ends the session, and with it the lock

    # ---- identity and versions ----------------------------------------------------------
    @property
    def identity(self) -> str:
        return "postgresql:" + masked(self.url)

    def __eq__(self, other) -> bool:
        return isinstance(other, PostgisStore) and other.url == self.url

    def __hash__(self) -> int:
        return hash(("postgis", self.url))

    def __repr__(self) -> str:
        return f"PostgisStore({masked(self.url)!r})"

    def environment(self) -> dict[str, str]:
        """The settings that open this store in another process (or app)."""
        return {"GAPMAP_DATABASE_URL": self.url}

    def location(self) -> str:
        return f"PostgreSQL {masked(self.url)}, build {self.build_id()}"

    def _current(self, conn) -> tuple[str, str]:
        row = conn.execute(f"SELECT b.build_id, b.schema_name FROM {CATALOG}.current_build c "
                           f"JOIN {CATALOG}.builds b USING (build_id)").fetchone()
        if row is None:
            raise StoreError(f"No Gapmap store in the database {masked(self.url)}. Build one with "
                             f"`gapmap data build` (or load a folder store with `gapmap data publish`).",
                             http_status=503)
        return row[0], row[1]

    def build_id(self) -> str:
        with self.db.transaction() as conn:
            return self._current(conn)[0]

    def version_key(self) -> str:
        """The current build id and every dataset's version, read in one query: it changes whenever
        a build is published or a dataset is added, replaced or removed, in any process."""
        with self.db.transaction() as conn:
            build, datasets = conn.execute(
                f"SELECT (SELECT build_id FROM {CATALOG}.current_build), "
                f"(SELECT string_agg(name || '=' || version, ',' ORDER BY name) FROM {CATALOG}.datasets)").fetchone()
        return f"{build or ''}|{datasets or ''}"

    # ---- writing -------------------------------------------------------------------------
    def writer(self, build_id: str | None = None) -> PostgisWriter:
        return PostgisWriter(self, build_id)

    def dataset_store(self):
        from geo.store.pg_datasets import PostgisDatasetStore

        return PostgisDatasetStore(self)

    # ---- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(f"SELECT 1 FROM {CATALOG}.current_build").fetchone() is not None

    def manifest(self) -> dict:
        with self.db.transaction() as conn:
            build, _ = self._current(conn)
            manifest = conn.execute(f"SELECT manifest FROM {CATALOG}.builds WHERE build_id = %s", (build,)).fetchone()[0]
        return manifest

    def _info(self, conn, schema: str, name: str):
        info = frame_info(conn, schema, name)
        if info is None:
            raise StoreError(f"the store in {masked(self.url)} has no table {name!r}; rebuild it with "
                             f"`gapmap data build`")
        return info

    def columns(self, name: str) -> list[str]:
        with self.db.transaction() as conn:
            _, schema = self._current(conn)
            return list(self._info(conn, schema, name).columns)

    def column_types(self, name: str) -> dict[str, str]:
        """Arrow type name of each column (the geometry is ``binary``), as the folder store says."""
        with self.db.transaction() as conn:
            _, schema = self._current(conn)
            info = self._info(conn, schema, name)
        types = {f.name: str(f.type) for f in info.arrow_schema}
        return {c: types.get(c, "binary") for c in info.columns}

    def _read(self, name: str, where, columns: list[str] | None, geometry: bool) -> pd.DataFrame:
        with self.db.transaction() as conn:
            _, schema = self._current(conn)
            info = self._info(conn, schema, name)
            if columns is not None:
                unknown = [c for c in columns if c not in info.columns]
                if unknown:
                    raise StoreError(f"table {name!r} has no column {', '.join(map(repr, unknown))}")
            condition = where(schema) if callable(where) else where
            return read_frame(conn, schema, name, info, columns, condition, geometry)

    @staticmethod
    def _equals(**codes: str | None):
        from psycopg import sql

        parts = [sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v)) for c, v in codes.items() if v]
        return sql.SQL(" AND ").join(parts) if parts else None

    def _members(self, column: str, **codes: str | None):
        """``column IN (the codes of that column among the LSOAs of the extent)``."""
        from psycopg import sql

        inner = self._equals(**codes)

        def where(schema):
            return sql.SQL("{} IN (SELECT {} FROM {} WHERE {})").format(
                sql.Identifier(column), sql.Identifier(column), sql.Identifier(schema, "lsoas"), inner)
        return where if inner is not None else None

    def lsoas(self, icb: str | None = None, lad: str | None = None, ward: str | None = None,
              columns: list[str] | None = None, geometry: bool = True) -> pd.DataFrame:
        """LSOA 2021 rows, optionally of one ICB, LAD or ward."""
        return self._read("lsoas", self._equals(icb24cd=icb, lad24cd=lad, ward24cd=ward), columns, geometry)

    def areas(self, level: str, icb: str | None = None, lad: str | None = None,
              geometry: bool = False) -> pd.DataFrame:
        """Ward, LAD or ICB rows (polygons and summaries); with ``icb``/``lad``, those with LSOAs there."""
        if level not in LEVELS:
            raise StoreError(f"unknown area level {level!r}; choose one of {', '.join(LEVELS)}")
        where = self._members(CODE_COLUMN[level], icb24cd=icb, lad24cd=lad)
        return self._read(f"areas_{level}", where, None, geometry)

    def points(self, kind: str, icb: str | None = None, lad: str | None = None) -> "gpd.GeoDataFrame":
        from psycopg import sql

        if kind not in POINT_KINDS:
            raise StoreError(f"unknown point layer {kind!r}; choose one of {', '.join(POINT_KINDS)}")
        by_lad = self._equals(lad24cd=lad)
        by_icb = self._members("lsoa21cd", icb24cd=icb)

        def where(schema):
            parts = [p for p in (by_lad, by_icb(schema) if by_icb else None) if p is not None]
            return sql.SQL(" AND ").join(parts) if parts else None
        return self._read(f"points_{kind}", where, None, True)

    def postcodes(self, keys: list[str] | None = None, geometry: bool = True) -> "gpd.GeoDataFrame":
        """Code-Point Open postcodes with their LSOA (missing outside England), by normalised key."""
        from psycopg import sql

        where = None if keys is None else sql.SQL("key = ANY({})").format(sql.Literal(list(keys)))
        return self._read("postcodes", where, None, geometry)

    def queen_links(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The build's queen contiguity tables, as :meth:`geo.store.folder.Store.queen_links`; None
        for a build published without them."""
        try:
            return self._read("lsoa_centroids", None, None, False), self._read("weights_queen", None, None, False)
        except StoreError:
            return None

    def lsoa11_to_lsoa21(self) -> pd.DataFrame:
        """ONS's exact-fit lookup with the share of each 2011 LSOA in each 2021 LSOA (``weight``)."""
        return self._read("lsoa11_to_lsoa21", None, None, False)

    def population_by_age(self, icb: str | None = None, lad: str | None = None, ward: str | None = None) -> pd.DataFrame:
        return self._read("population_mid2020", self._members("lsoa21cd", icb24cd=icb, lad24cd=lad, ward24cd=ward),
                          None, False)

    def population_by_sex_age(self, icb: str | None = None, lad: str | None = None,
                              ward: str | None = None) -> pd.DataFrame | None:
        """ONS mid-2022 LSOA 2021 population by sex and single year of age (``lsoa21cd``, ``sex``,
        ``age_0`` .. ``age_89``, ``age_90_plus``), as the folder store gives it; None when the build
        had no such file."""
        where = self._members("lsoa21cd", icb24cd=icb, lad24cd=lad, ward24cd=ward)
        with self.db.transaction() as conn:  # one transaction: the table and its rows from one build
            _, schema = self._current(conn)
            info = frame_info(conn, schema, POPULATION_BY_SEX_TABLE)
            if info is None:
                return None
            return read_frame(conn, schema, POPULATION_BY_SEX_TABLE, info, None,
                              where(schema) if where is not None else None, False)

    def report(self, name: str) -> pd.DataFrame:
        if name not in self.reports():
            raise StoreError(f"the store has no report {name!r}")
        return self._read(f"report_{name}", None, None, False)

    def reports(self) -> list[str]:
        with self.db.transaction() as conn:
            _, schema = self._current(conn)
            rows = conn.execute(f"SELECT table_name FROM {CATALOG}.frames WHERE schema_name = %s "
                                f"AND table_name LIKE 'report\\_%%'", (schema,)).fetchall()
        return sorted(r[0][len("report_"):] for r in rows)


def publish(folder, target: PostgisStore, echo=None) -> str:
    """Load the folder store's current build (every table, report and its manifest) into PostGIS
    as one build with the same id, in one transaction; returns where it went."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    source = folder.path
    build_id = folder.build_id()
    with target.db.transaction() as conn:
        if conn.execute(f"SELECT 1 FROM {CATALOG}.builds WHERE build_id = %s", (build_id,)).fetchone():
            raise StoreError(f"build {build_id} is already published in {masked(target.url)}")
    with target.writer(build_id=build_id) as writer:
        for path in sorted(source.glob("*.parquet")):
            has_geometry = b"geo" in (pq.read_schema(path).metadata or {})
            frame = gpd.read_parquet(path) if has_geometry else pd.read_parquet(path)
            writer.table(path.stem, frame.drop(columns=["bbox"], errors="ignore"))
            if echo:
                echo(f"  {path.stem:<24} {len(frame):>9,} rows")
        for name in folder.reports():
            writer.report(name, folder.report(name))
        writer.manifest({**folder.manifest(), "build_id": build_id, "published_from": str(source)})
        return writer.commit()


__all__ = ["PostgisStore", "PostgisWriter", "publish", "setup", "DATASET_SCHEMA"]
