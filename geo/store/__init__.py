"""Store: where built tables and ingested datasets live. ``folder.Store`` is the embedded
GeoParquet store (the default); ``postgis.PostgisStore`` keeps the same tables in
PostgreSQL/PostGIS when ``GAPMAP_DATABASE_URL`` is set; ``datasets`` keeps uploaded activity data
beside either; ``schema`` documents every column. Everything that reads or writes stored data
goes through here: call :func:`open_store` for the configured one."""
from __future__ import annotations


def open_store(root=None, url: str | None = None):
    """The configured store: PostGIS at ``url`` (default ``$GAPMAP_DATABASE_URL``) when one is
    given, else the folder store at ``root`` (default ``$GAPMAP_STORE``)."""
    from geo import settings

    url = settings.database_url() if url is None else url
    if url:
        from geo.store.postgis import PostgisStore

        return PostgisStore(url)
    from geo.store.folder import Store

    return Store(root)


def open_accounts(store, override=None):
    """The accounts that go with ``store``: in its PostgreSQL database for a PostGIS store (so
    every worker and server shares users, tokens and the audit log), else the SQLite file in the
    folder store (``GAPMAP_ACCOUNTS`` or ``override`` names another file)."""
    import os
    from pathlib import Path

    from geo.store.accounts import Accounts

    override = override or os.environ.get("GAPMAP_ACCOUNTS", "").strip() or None
    if override:
        return Accounts(Path(override))
    url = getattr(store, "url", None)
    if url:
        from geo.store.pg_accounts import PostgresAccounts

        return PostgresAccounts(url)
    return Accounts.for_store(store.root)
