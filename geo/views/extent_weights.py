"""Spatial weights over the LSOAs of an extent (England, an ICB, a LAD or a ward), cached per store
build. Queen weights come from those ``gapmap data build`` kept (:class:`geo.stats.weights.StoredQueen`,
subset to the extent by LSOA code, in milliseconds); other kinds, and queen for a build made
before they were kept, are found in the polygons (:func:`geo.stats.weights.build`)."""
from __future__ import annotations

import sys

import numpy as np

from geo.errors import InvalidValue
from geo.stats.weights import StoredQueen, Weights, build
from geo.views.cache_budget import LruEntries

WEIGHTS = LruEntries(max_entries=32, max_bytes=128 << 20, name="spatial weights")  # and the one budget


def _weights_bytes(w: Weights) -> int:
    m = w.neighbours
    return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) + _codes_bytes(w.ids)


def _codes_bytes(codes) -> int:
    """The memory of LSOA codes: a numpy array's bytes, or a tuple of str in one C loop
    (:func:`object_bytes` walks them one by one, which took most of the time to read England's weights)."""
    if isinstance(codes, np.ndarray):
        return int(codes.nbytes)
    return sys.getsizeof(codes) + sum(map(sys.getsizeof, codes))


def _cached(store, build_id: str, extent: tuple, kind: str, k: int, distance_m: float | None) -> Weights:
    return WEIGHTS.memo((store.identity, build_id, extent, kind, k, distance_m),
                        lambda: _build(store, extent, kind, k, distance_m), _weights_bytes)


def _stored_bytes(q: StoredQueen) -> int:
    m = q.neighbours
    return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + q.centroids.nbytes) + _codes_bytes(q.ids)


def stored_queen(store, build_id: str) -> StoredQueen | None:
    """The build's queen contiguity as ``gapmap data build`` kept it, read once per build; None
    for an older build that does not hold it."""
    def read():
        tables = store.queen_links()
        if tables is None:
            return None
        points, links = tables
        return StoredQueen.from_links(points["lsoa21cd"].to_numpy(), links["i"].to_numpy(), links["j"].to_numpy(),
                                      points["x"].to_numpy(), points["y"].to_numpy())

    return WEIGHTS.memo((store.identity, build_id, "stored queen"), read,
                        lambda q: _stored_bytes(q) if q is not None else 0)


def _build(store, extent: tuple, kind: str, k: int, distance_m: float | None) -> Weights:
    """Queen weights from those the build kept, subset to the extent by LSOA code (milliseconds);
    other kinds, and queen for a build without them, from the polygons."""
    level, code = extent
    filters = {"icb": None, "lad": None, "ward": None}
    if level != "england":
        filters[level] = code
    if kind == "queen":
        stored = stored_queen(store, store.build_id())
        if stored is not None:
            if level == "england":
                return stored.weights()
            codes = store.lsoas(columns=["lsoa21cd"], geometry=False, **filters)["lsoa21cd"]
            return stored.weights(np.sort(codes.astype(str).to_numpy()))
    lsoas = store.lsoas(columns=["lsoa21cd"], **filters)
    return build(lsoas.sort_values("lsoa21cd").reset_index(drop=True), kind, k, distance_m)


def for_extent(store, level: str = "england", code: str | None = None, kind: str = "queen", k: int = 6,
               distance_m: float | None = None) -> Weights:
    """Weights over the LSOAs of England, an ICB, a LAD or a ward (sorted by LSOA code), built
    once per store build and reused."""
    if level not in ("england", "icb", "lad", "ward"):
        raise InvalidValue(f"unknown extent {level!r}: england, icb, lad or ward")
    return _cached(store, store.build_id(), (level, code), kind, k, distance_m)
