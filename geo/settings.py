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
``GAPMAP_MIN_SUPPRESS`` the server's disclosure floor: counts from 1 to this are always
                    suppressed, whatever a dataset's own rule says (default 7, HES)
``GAPMAP_MIN_ROUND`` the floor of the rounding base (default 5, HES)
``GAPMAP_DISCLOSURE_KEY`` the secret that keys the perturbation of published group
                    totals (default: generated once into ``<store>/disclosure_key``;
                    set the same value on every server of a team)
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


def _megabytes(name: str, default: float) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(float(value) * 1e6) if value else int(default * 1e6)
    except ValueError:
        raise ValueError(f"{name}={value!r}: give a number of megabytes, e.g. {default:g}") from None


def pack_manifest_limit() -> int:
    """Largest store-pack manifest (gapmap-pack.json) or dataset meta.json read, in bytes
    (GAPMAP_MAX_PACK_MANIFEST_MB, default 16)."""
    return _megabytes("GAPMAP_MAX_PACK_MANIFEST_MB", 16)


def pack_file_limit() -> int:
    """Largest file a store pack may hold, in bytes (GAPMAP_MAX_PACK_FILE_MB, default 4096)."""
    return _megabytes("GAPMAP_MAX_PACK_FILE_MB", 4096)


def cache_budget() -> int:
    """Bytes all of the service's caches may hold together (GAPMAP_CACHE_MB, default 512)."""
    return _megabytes("GAPMAP_CACHE_MB", 512)


def database_url() -> str | None:
    value = os.environ.get("GAPMAP_DATABASE_URL", "").strip()
    return value or None


def _whole_number(name: str, default: int, lowest: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: give a whole number (default {default})") from None
    if number < lowest:
        raise ValueError(f"{name}={value!r}: it must be {lowest} or more")
    return number


def min_suppress() -> int:
    """Counts from 1 to this are suppressed in every output, whatever a dataset's rule says."""
    return _whole_number("GAPMAP_MIN_SUPPRESS", 7, 0)


def min_round() -> int:
    """Published counts are rounded to a multiple of at least this."""
    return _whole_number("GAPMAP_MIN_ROUND", 5, 1)


def disclosure_key() -> str | None:
    value = os.environ.get("GAPMAP_DISCLOSURE_KEY", "").strip()
    return value or None
