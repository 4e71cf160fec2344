"""Connections to PostgreSQL, shared by everything Gapmap keeps there (the PostGIS store, datasets,
and any other durable table such as users or an audit log).

``GAPMAP_DATABASE_URL`` names the database (a libpq URL or ``key=value`` string, e.g.
``postgresql://gapmap@db.example.nhs.uk/gapmap`` or ``postgresql:///gapmap?host=/run/postgresql``).
:class:`Database` hands each thread (and each process after a fork, as gunicorn makes workers)
its own connection, made on first use and remade when it breaks; :meth:`Database.transaction`
runs a block in one transaction. psycopg (version 3) is an optional dependency: install
``gapmap[postgres]``.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading

from geo.errors import GapmapError, Unavailable


class DatabaseError(Unavailable):
    """The database cannot be reached or is not set up for Gapmap."""


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the installation
        raise GapmapError("GAPMAP_DATABASE_URL is set but psycopg is not installed: "
                          "pip install 'gapmap[postgres]'") from None
    return psycopg


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    url = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
    return re.sub(r"(password=)\S+", r"\1***", url)


def connect(url: str, autocommit: bool = True):
    """A new psycopg connection; a clear error when the server cannot be reached."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to the database {masked(url)}: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None


class Database:
    """One database: a connection per thread and process, remade when it breaks."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Database({masked(self.url)!r})"

    def connection(self):
        conn = getattr(self._local, "conn", None)
        pid = getattr(self._local, "pid", None)
        if conn is None or conn.closed or conn.broken or pid != os.getpid():
            conn = connect(self.url)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextlib.contextmanager
    def transaction(self):
        """A connection inside one transaction (committed at the end, rolled back on error). A
        connection the server has closed since its last use (a restart, an idle timeout) is
        noticed when the transaction begins and replaced once."""
        psycopg = _psycopg()
        conn = self.connection()
        try:
            block = conn.transaction()
            block.__enter__()
        except psycopg.OperationalError:
            self.close()
            conn = self.connection()
            block = conn.transaction()
            block.__enter__()
        try:
            yield conn
        except BaseException as exc:
            if not block.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            block.__exit__(None, None, None)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and getattr(self._local, "pid", None) == os.getpid():
            try:
                conn.close()
            except Exception:  # a connection already broken closes with an error; it is gone either way
                pass
        self._local.conn = None


__all__ = ["Database", "DatabaseError", "connect", "masked"]
