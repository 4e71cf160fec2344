"""Handing memory that was freed back to the operating system, so that the server's resident size
follows what it holds (its caches, within ``GAPMAP_CACHE_MB``) rather than its busiest moment.

A cold England map allocates a few hundred MB of temporary frames and arrays and frees them again;
glibc's allocator keeps freed memory in per-thread arenas, and with the service's 32 threads each
cold map can leave a new arena's worth behind (the benchmark ``bench/bench_memory.py`` measured
RSS climbing ~180 MB per cold England map while the caches grew ~45 MB). Two remedies, both
no-ops where the C library is not glibc:

* :func:`limit_arenas` caps the number of arenas (``gapmap serve`` asks for 2 at start, before
  its threads exist; ``MALLOC_ARENA_MAX`` in the environment wins);
* :func:`trim` returns the free memory at the top of every arena to the system (called after
  each heavy computation; it takes milliseconds against the seconds the computation took).
"""
from __future__ import annotations

import ctypes
import ctypes.util
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
