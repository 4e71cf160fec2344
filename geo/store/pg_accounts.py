"""Users, API tokens and the audit log in PostgreSQL (schema ``gapmap_accounts``), for a PostGIS
store: every worker and every server of a team reads and writes the same accounts, each change in
one transaction. The queries are those of :class:`geo.store.accounts.Accounts`, run through
:class:`geo.store.pg.Database`.
"""
from __future__ import annotations

import threading

from geo.store.accounts import SCHEMA as TABLES
from geo.store.accounts import Accounts
from geo.store.pg import Database, _psycopg

SCHEMA = "gapmap_accounts"
# the SQLite tables, in their own schema, with PostgreSQL's identity column for the audit log
DDL = (f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}; SET LOCAL search_path TO {SCHEMA};"
       + TABLES.replace("id INTEGER PRIMARY KEY AUTOINCREMENT", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
_READY: set[str] = set()
_READY_LOCK = threading.Lock()


class PostgresAccounts(Accounts):
    """:class:`Accounts` kept in PostgreSQL: same methods, same answers."""

    def __init__(self, url: str):
        self.url = url
        self.path = None
        self.db = Database(url)
        self.INTEGRITY_ERRORS = (_psycopg().errors.IntegrityError,)
        with _READY_LOCK:
            if url not in _READY:
                with self.db.transaction() as conn:
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('gapmap accounts schema'))")
                    conn.execute(DDL)
                _READY.add(url)

    def _exists(self) -> bool:
        return True

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.db.transaction() as conn:
            conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
            cursor = conn.execute(sql.replace("?", "%s"), args)
            return cursor.fetchall() if cursor.description else []
