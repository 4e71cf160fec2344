"""Spatial weights over the LSOAs of an extent (England, an ICB, a LAD or a ward), read from the
store and built once per store build (:func:`geo.stats.weights.build` does the building)."""
from __future__ import annotations

from geo.errors import InvalidValue
from geo.stats.weights import Weights, build
from geo.views.cache_budget import LruEntries, object_bytes

WEIGHTS = LruEntries(max_entries=32, max_bytes=128 << 20, name="spatial weights")  # and the one budget


def _weights_bytes(w: Weights) -> int:
    m = w.neighbours
    return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) + object_bytes(w.ids)


def _cached(store, build_id: str, extent: tuple, kind: str, k: int, distance_m: float | None) -> Weights:
    return WEIGHTS.memo((store.identity, build_id, extent, kind, k, distance_m),
                        lambda: _build(store, extent, kind, k, distance_m), _weights_bytes)


def _build(store, extent: tuple, kind: str, k: int, distance_m: float | None) -> Weights:
    level, code = extent
    filters = {"icb": None, "lad": None, "ward": None}
    if level != "england":
        filters[level] = code
    lsoas = store.lsoas(columns=["lsoa21cd"], **filters)
    return build(lsoas.sort_values("lsoa21cd").reset_index(drop=True), kind, k, distance_m)


def for_extent(store, level: str = "england", code: str | None = None, kind: str = "queen", k: int = 6,
               distance_m: float | None = None) -> Weights:
    """Weights over the LSOAs of England, an ICB, a LAD or a ward (sorted by LSOA code), built
    once per store build and reused."""
    if level not in ("england", "icb", "lad", "ward"):
        raise InvalidValue(f"unknown extent {level!r}: england, icb, lad or ward")
    return _cached(store, store.build_id(), (level, code), kind, k, distance_m)
