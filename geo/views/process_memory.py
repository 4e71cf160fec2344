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
