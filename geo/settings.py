"""Where Gapmap keeps things, from the environment with sensible defaults.

=================== ===========================================================
``GAPMAP_STORE``    the embedded store folder (default ``<project>/var/store``)
``GAPMAP_DOWNLOADS``where ``gapmap data fetch`` saves official files
                    (default ``<project>/boundaries/downloads``, git-ignored)
``GAPMAP_MIRROR``   a local copy of the official files to read instead of the
                    internet (for example ``../shared/data``)
``GAPMAP_CATALOGUE`` another source catalogue than ``boundaries/sources.toml``
                    (for example one pointing at an internal copy of each site)
``GAPMAP_STORE_PACK`` a store pack (``gapmap data pack``) installed into the store
                    at start when the store does not already hold its build
``GAPMAP_DATABASE_URL`` a PostgreSQL/PostGIS database to keep the store and datasets
                    in instead of the folder (``postgresql://user@host/dbname``)
=================== ===========================================================
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default


def store_dir() -> Path:
    return _path_from_env("GAPMAP_STORE", PROJECT_ROOT / "var" / "store")


def downloads_dir() -> Path:
    return _path_from_env("GAPMAP_DOWNLOADS", PROJECT_ROOT / "boundaries" / "downloads")


def mirror_dir() -> Path | None:
    value = os.environ.get("GAPMAP_MIRROR", "").strip()
    return Path(value).expanduser().resolve() if value else None


def catalogue_path(default: Path) -> Path:
    return _path_from_env("GAPMAP_CATALOGUE", default)


def store_pack() -> Path | None:
    value = os.environ.get("GAPMAP_STORE_PACK", "").strip()
    return Path(value).expanduser().resolve() if value else None


def database_url() -> str | None:
    value = os.environ.get("GAPMAP_DATABASE_URL", "").strip()
    return value or None
