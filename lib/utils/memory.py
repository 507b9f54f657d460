"""Process-level memory settings."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from typing import Callable, Optional

logger = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks below it come from the heap
TRIM_THRESHOLD = 256 << 20  # free heap kept mapped up to this much


def keep_freed_memory() -> bool:
    """Let glibc reuse freed multi-megabyte blocks instead of handing them back to the kernel.

    A data worker allocates and frees a few frames of several MB per sample (decoded frames, crop
    canvases). By default glibc maps such blocks anew, or returns freed heap beyond a trim threshold
    that depends on the history of frees, and the next frame's buffer is then faulted in page by page
    (hundreds of page faults per sample, a tenth of a worker's time at 1080p). Fixed thresholds keep
    the memory mapped: resident memory stays at the largest working set, not above it. Returns whether
    the settings applied (glibc only; elsewhere nothing changes).
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not applied:
        logger.debug("mallopt refused the thresholds; the allocator keeps its defaults")
    return applied


def return_freed_heap() -> None:
    """Collect garbage and ask the C allocator to give free heap pages back (glibc's ``malloc_trim``).

    glibc keeps freed heap for reuse, so without this a rank that parsed the annotations stays hundreds of
    MB larger than one that mapped the index cache. Elsewhere (no ``malloc_trim``) this only collects garbage.
    """
    gc.collect()
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def _libc_function(name: str) -> Optional[Callable]:
    """glibc's ``name`` from the process's own symbols (glibc's when it is the C library), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
