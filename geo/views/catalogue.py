"""What a store holds, read once per store version: the light routes (the indicator list, the
NHS indicators, an ICB's places) answer from memory.

A folder store's *version* here is its build id and, for every dataset, the version its link
points at and its ``meta.json``'s inode and modification time: a new build made current, a
dataset ingested, replaced or removed, and a dataset shared or hidden (``meta.json`` replaced in
place) each change it, so the next request reads the store again, in every process. Finding the
version costs one directory scan and a stat per dataset (microseconds). The view a user has of
the datasets (:mod:`geo.store.dataset_scope`) is part of the key, so one user's list is never
served to another.

A store whose datasets live elsewhere (PostGIS) has no such cheap version: :func:`version` is
None and :func:`cached` computes each time. :func:`token` is the same check without resolving
the build path or the scope, for :mod:`app.light_responses`, which runs at every light request
before Flask.
"""
from __future__ import annotations

import os

from geo.store.dataset_scope import unscoped
from geo.store.folder import Store
from geo.views.cache_budget import LruEntries, object_bytes

CATALOGUE = LruEntries(max_entries=256, max_bytes=16 << 20, name="store catalogue")


def _datasets_signature(root) -> tuple:
    """(name, version link, meta.json inode, meta.json mtime in ns) of every dataset, by name."""
    folder = os.path.join(root, "datasets")
    out = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return ()
    for entry in entries:
        if not entry.is_symlink():
            continue
        try:
            target = os.readlink(entry.path)
            meta = os.stat(os.path.join(folder, target, "meta.json"))
        except OSError:  # removed or being replaced while listed: not a dataset now
            continue
        out.append((entry.name, target, meta.st_ino, meta.st_mtime_ns))
    return tuple(sorted(out))


def version(store) -> tuple | None:
    """The key of what ``store`` (as its user sees it) holds now: identity, build id, datasets
    signature and dataset scope; None for a store that is not a folder store."""
    base = unscoped(store)
    if not isinstance(base, Store):
        return None
    return (store.identity, store.build_id(), _datasets_signature(str(base.root)),
            getattr(store, "dataset_scope", None))


def token(store) -> tuple | None:
    """A cheaper :func:`version` without the scope, for a store's raw folder: its identity, the
    text of its ``current`` link (a new build is a new link) and the datasets signature; one
    readlink more than the signature's scan, no path resolved. None for a store that is not a
    folder store or has no build."""
    base = unscoped(store)
    if not isinstance(base, Store):
        return None
    root = str(base.root)
    try:
        return (base.identity, os.readlink(os.path.join(root, "current")), _datasets_signature(root))
    except OSError:  # no build yet, or a folder this process may not read
        return None


def cached(store, what: str, make):
    """``make()``, computed once per :func:`version` of ``store`` and ``what`` (a name for the
    value, with any parameters it depends on). The value is shared: callers must not change it."""
    key = version(store)
    if key is None:
        return make()
    return CATALOGUE.memo((what,) + key, make, object_bytes)


def per_build(store, what: str, make):
    """``make()``, computed once per build of ``store`` (for what depends on the build's tables
    only, not on the datasets). Shared: callers must not change it."""
    base = unscoped(store)
    if not isinstance(base, Store):
        return make()
    return CATALOGUE.memo((what, store.identity, store.build_id()), make, object_bytes)


def dataset_metas(store) -> list[dict]:
    """The metadata of every dataset the store's user sees (``DatasetStore(store).list()``), by name."""
    from geo.store.datasets import DatasetStore

    return cached(store, "dataset metas", lambda: DatasetStore(store).list())


def dataset_names(store) -> tuple[str, ...]:
    """The names of the datasets the store's user sees."""
    from geo.store.datasets import DatasetStore

    return cached(store, "dataset names", lambda: tuple(DatasetStore(store).names()))
