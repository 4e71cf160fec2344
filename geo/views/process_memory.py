"""Handing memory that was freed back to the operating system, so that the server's resident size
follows what it holds (its caches, within ``GAPMAP_CACHE_MB``) rather than its busiest moment.

A cold England map allocates a few hundred MB of temporary frames and arrays and frees them again.
Allocators keep freed memory for reuse per thread: Arrow's default pool (mimalloc) keeps a heap
per thread, and glibc's malloc an arena per thread, so with the service's 32 threads each cold
map could leave a new heap's worth behind (``bench/bench_memory.py`` measured the resident size
climbing ~180 MB per cold England map while the caches grew ~45 MB, and flat once both were
settled). So:

* :func:`settle` (``gapmap serve`` and each gunicorn worker call it at start, before their threads
  exist) has Arrow allocate through the system allocator (unless ``ARROW_DEFAULT_MEMORY_POOL`` is
  set) and caps glibc's arenas at 2 (unless ``MALLOC_ARENA_MAX`` is set);
* :func:`trim` returns the free memory of every arena to the system (called after each heavy
  computation; it takes milliseconds against the seconds the computation took).

Where the C library is not glibc the malloc parts do nothing.

The garbage collector is the other part of a server's memory that costs it time. Once the app is
made, the process holds some 200,000 objects (modules, functions, the libraries' tables) that
live as long as it does, and every full collection walks all of them again: 0.1-0.2 s on this
2-core machine during which every thread waits (the GIL is held), so 100 clients asking back to
back saw a tail of several hundred ms. :func:`freeze_startup` (called by ``gapmap serve`` and each
gunicorn worker once the app is made) moves them out of the collector's view (``gc.freeze``):
collections then walk only what was made since. What was frozen is never collected, so a cycle
among start-up objects that later becomes garbage would stay; start-up objects are what the
process keeps to its end anyway.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading

M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
_lock = threading.Lock()


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def limit_arenas(count: int = 2) -> bool:
    """Use at most ``count`` malloc arenas from now on (unless MALLOC_ARENA_MAX is set); True when done."""
    if _LIBC is None or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, int(count)))


def settle() -> None:
    """Allocators that give memory back: Arrow through the system allocator, at most 2 arenas."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    limit_arenas(2)


def trim() -> bool:
    """Give freed memory back to the system; True when some was."""
    if _LIBC is None:
        return False
    if not _lock.acquire(blocking=False):  # another thread is trimming already
        return False
    try:
        return bool(_LIBC.malloc_trim(0))
    finally:
        _lock.release()


def freeze_startup() -> int:
    """Collect what start-up left unreachable, then keep everything alive now out of the garbage
    collector's walks (``gc.freeze``); returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
