"""Giving freed memory back: decoding a large image takes hundreds of MB for a moment, in
whichever worker thread serves the call. glibc's allocator would keep those pages in per-thread
arenas (and raise its mmap threshold after each large free), so the server's RSS would stay at
its peak for good. With a fixed 1 MiB mmap threshold every large buffer is its own mapping,
returned to the system when freed, and two arenas bound what small allocations can scatter.

Fixing the mmap threshold also fixes glibc's trim threshold at its 128 KiB default: every call's
temporaries below 1 MiB (pre-processing blocks, the featurizer's layers, messages) were then
given back to the system when freed and faulted in again by the next call, 5-7 ms of CPU per
image in all, more than the scoring itself. So the free top of each arena is kept up to
``TRIM_THRESHOLD_BYTES`` (at most twice that over the two arenas); buffers of 1 MiB and more
are still returned at once."""
from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 20
TRIM_THRESHOLD_BYTES = 32 << 20
ARENAS = 2


def return_large_buffers() -> bool:
    """Sets the allocator up as the module docstring says; False where it is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return (bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_ARENA_MAX, ARENAS))
            and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)))
