"""One memory budget for every cache the service keeps, so that its memory is bounded as a whole.

Each cache (:class:`LruEntries`; :class:`geo.views.map_table.BoundedCache` adds request coalescing
to it) keeps its own bound in entries and bytes, and every cache of the process also counts
against one :class:`CacheBudget`, ``GAPMAP_CACHE_MB`` (default 512 MB; :data:`BUDGET`). When the
entries of all caches together exceed the budget, the least recently used entry *of any cache*
is dropped, and the next, until they fit: a burst of cold England maps pushes out old panels and
statements as readily as old maps, and the total never stays above the budget.

Sizes are estimates made when an entry is stored (:func:`object_bytes`, or the cache's own size
function): pandas frames by their deep memory use, arrays by their bytes, text by its length.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd

from geo import settings


class CacheBudget:
    """The bytes every registered cache may hold together; evicts across caches, least recently
    used first. ``lock`` is the one lock all its caches share (their critical sections are short)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.lock = threading.RLock()
        self.nbytes = 0
        self._caches: weakref.WeakSet = weakref.WeakSet()
        self._clock = itertools.count()

    def register(self, cache: "LruEntries") -> None:
        with self.lock:
            self._caches.add(cache)

    def tick(self) -> int:
        """A number that grows with every use of any entry (its recency)."""
        return next(self._clock)

    def make_room(self) -> int:
        """Drop least recently used entries, across caches, until the total fits; returns how many.
        Call with ``lock`` held."""
        dropped = 0
        while self.nbytes > self.max_bytes:
            held = [c for c in self._caches if c._items]
            if not held:
                break
            min(held, key=lambda c: next(iter(c._items.values()))[2])._drop_oldest()
            dropped += 1
        return dropped

    def caches(self) -> list["LruEntries"]:
        with self.lock:
            return list(self._caches)


BUDGET = CacheBudget(settings.cache_budget())


class LruEntries:
    """One cache: least recently used entries dropped beyond ``max_entries`` or ``max_bytes``, and
    counted against ``budget`` with every other cache. ``name`` says what it holds (benchmarks)."""

    def __init__(self, max_entries: int, max_bytes: int, budget: CacheBudget = BUDGET, name: str = ""):
        self.max_entries, self.max_bytes, self.budget, self.name = max_entries, max_bytes, budget, name
        self._items: OrderedDict = OrderedDict()  # key -> (value, size, last use)
        self._bytes = 0
        self._lock = budget.lock
        budget.register(self)

    def lookup(self, key) -> tuple[bool, object]:
        """(True, value) when ``key`` is held (it becomes the most recently used), else (False, None)."""
        with self._lock:
            if key not in self._items:
                return False, None
            value, size, _ = self._items[key]
            self._items[key] = (value, size, self.budget.tick())
            self._items.move_to_end(key)
            return True, value

    def store(self, key, value, nbytes: int) -> bool:
        """Keep ``value`` (estimated ``nbytes``) unless it alone is larger than this cache's bound or
        the budget; then drop what no longer fits. Returns whether it was kept."""
        nbytes = int(nbytes)
        with self._lock:
            if nbytes > min(self.max_bytes, self.budget.max_bytes):
                return False
            if key in self._items:
                self._drop(key)
            self._items[key] = (value, nbytes, self.budget.tick())
            self._bytes += nbytes
            self.budget.nbytes += nbytes
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop_oldest()
            self.budget.make_room()
            return key in self._items

    def memo(self, key, compute, size=None):
        """The value held for ``key``, else ``compute()`` kept (no coalescing of concurrent calls)."""
        found, value = self.lookup(key)
        if found:
            return value
        value = compute()
        self.store(key, value, size(value) if size else object_bytes(value))
        return value

    def _drop(self, key) -> None:
        _, size, _ = self._items.pop(key)
        self._bytes -= size
        self.budget.nbytes -= size

    def _drop_oldest(self) -> None:
        self._drop(next(iter(self._items)))

    def clear(self) -> None:
        with self._lock:
            for key in list(self._items):
                self._drop(key)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes


def object_bytes(value, _seen: set | None = None) -> int:
    """An estimate of the memory ``value`` holds: frames by deep memory use, arrays by their
    bytes, text by its length, containers and dataclasses (and plain objects) by their parts."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum()) if len(value.columns) else 0
    if isinstance(value, pd.Series):
        return int(value.memory_usage(deep=True))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (str, bytes, bytearray)):
        return len(value) + 49
    if isinstance(value, dict):
        return 64 + sum(object_bytes(k, seen) + object_bytes(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return 56 + sum(object_bytes(v, seen) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 64 + sum(object_bytes(getattr(value, f.name, None), seen) for f in dataclasses.fields(value))
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return 64 + object_bytes(vars(value), seen)
    return sys.getsizeof(value)
