"""Uploaded activity datasets in PostgreSQL: the same methods as :class:`geo.store.datasets.DatasetStore`.

Each saved version gets its own tables in the ``gapmap_datasets`` schema (``<version>_counts``,
``<version>_rows`` for rows not used, ``<version>_practices`` for Fingertips files) and one row in
``gapmap.datasets`` (name, version, kind, metadata with provenance and the report). Saving
writes the tables, then, holding a lock on the dataset's name, points the row at the new version
and drops the old version's tables, all in ONE transaction: two analysts saving at once both
succeed (the same name: the later save wins, whole), a failed save changes nothing, and a reader
sees either the old dataset or the new one, never a mixture.
"""
from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass

import pandas as pd

from geo.store.datasets import DatasetError, check_name
from geo.store.pg_frames import CATALOG, frame_info, read_frame, write_frame

SCHEMA = "gapmap_datasets"
PARTS = ("counts", "rows", "practices")


def _rows_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows not used as the folder store gives them back: every column text, empty not missing."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype=str, keep_default_na=False)


@dataclass
class PostgisDataset:
    name: str
    version: str
    kind: str
    meta: dict
    store: object

    def _read(self, part: str) -> pd.DataFrame:
        import psycopg

        gone = DatasetError(f"dataset {self.name!r} was replaced or removed while it was being read; try again",
                            http_status=409)
        try:
            with self.store.db.transaction() as conn:
                info = frame_info(conn, SCHEMA, f"{self.version}_{part}")
                if info is None:
                    raise gone
                return read_frame(conn, SCHEMA, f"{self.version}_{part}", info)
        except (psycopg.errors.UndefinedTable, psycopg.errors.InternalError):  # dropped while waiting for it
            raise gone from None

    def counts(self) -> pd.DataFrame:
        return self._read("counts")

    def practices(self):
        """GP practice points (a GeoDataFrame) of a Fingertips dataset."""
        return self._read("practices")

    def rows_not_used(self) -> pd.DataFrame:
        return self._read("rows")


class PostgisDatasetStore:
    def __init__(self, store):
        self.store = store
        self.db = store.db

    def names(self) -> list[str]:
        with self.db.transaction() as conn:
            return [r[0] for r in conn.execute(f"SELECT name FROM {CATALOG}.datasets ORDER BY name").fetchall()]

    def get(self, name: str) -> PostgisDataset:
        check_name(name)
        with self.db.transaction() as conn:
            row = conn.execute(f"SELECT version, kind, meta FROM {CATALOG}.datasets WHERE name = %s",
                               (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise DatasetError(f"no dataset called {name!r} (datasets: {known})")
        return PostgisDataset(name, row[0], row[1], row[2], self.store)

    def list(self) -> list[dict]:
        with self.db.transaction() as conn:
            return [r[0] for r in conn.execute(f"SELECT meta FROM {CATALOG}.datasets ORDER BY name").fetchall()]

    def save(self, name: str, meta: dict, rows_not_used: pd.DataFrame, counts: pd.DataFrame | None = None,
             practices=None) -> PostgisDataset:
        check_name(name)
        version = "v" + uuid.uuid4().hex[:20]
        meta = {"name": name, **meta}
        text = json.dumps(meta, indent=2, default=str)
        kind = "lsoa" if counts is not None or practices is None else "practices"  # as the folder store
        with self.db.transaction() as conn:
            if counts is not None:
                write_frame(conn, SCHEMA, f"{version}_counts", counts)
            if practices is not None:
                write_frame(conn, SCHEMA, f"{version}_practices", practices)
            write_frame(conn, SCHEMA, f"{version}_rows", _rows_as_text(rows_not_used))
            # only now wait for another save of the same name: loading above runs side by side
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("gapmap dataset " + name,))
            old = conn.execute(f"SELECT version FROM {CATALOG}.datasets WHERE name = %s", (name,)).fetchone()
            conn.execute(f"INSERT INTO {CATALOG}.datasets (name, version, kind, meta) VALUES (%s, %s, %s, %s) "
                         f"ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, kind = EXCLUDED.kind, "
                         f"meta = EXCLUDED.meta, saved_at = now()", (name, version, kind, text))
            if old is not None:
                _drop_version(conn, old[0])
        return PostgisDataset(name, version, kind, json.loads(text), self.store)

    def remove(self, name: str) -> None:
        check_name(name)
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("gapmap dataset " + name,))
            row = conn.execute(f"DELETE FROM {CATALOG}.datasets WHERE name = %s RETURNING version", (name,)).fetchone()
            if row is None:
                known = ", ".join(r[0] for r in conn.execute(
                    f"SELECT name FROM {CATALOG}.datasets ORDER BY name").fetchall()) or "none yet"
                raise DatasetError(f"no dataset called {name!r} (datasets: {known})")
            _drop_version(conn, row[0])

    def set_shared(self, name: str, shared: bool) -> None:
        """Mark the dataset ``shared`` (seen by users of every ICB) or not, in its meta, in one statement."""
        self.get(name)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE {CATALOG}.datasets SET meta = jsonb_set(meta::jsonb, '{{shared}}', %s::jsonb)::json "
                         f"WHERE name = %s", (json.dumps(bool(shared)), name))

    def versions(self) -> list[str]:
        """Every dataset version with tables in the database (one per dataset, unless a save is under way)."""
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT DISTINCT split_part(table_name, '_', 1) FROM {CATALOG}.frames "
                                f"WHERE schema_name = %s ORDER BY 1", (SCHEMA,)).fetchall()
        return [r[0] for r in rows]


def _drop_version(conn, version: str) -> None:
    from psycopg import sql

    for part in PARTS:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, f"{version}_{part}")))
    conn.execute(f"DELETE FROM {CATALOG}.frames WHERE schema_name = %s AND table_name LIKE %s",
                 (SCHEMA, version + "\\_%"))


__all__ = ["PostgisDataset", "PostgisDatasetStore"]
