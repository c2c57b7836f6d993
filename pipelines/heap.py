"""Freed memory kept in the heap while a gated run computes in process, not handed back to
the kernel only to be faulted in again.

glibc's malloc serves an allocation above its mmap threshold (which adapts up to 32 MiB)
with fresh pages from the kernel, and unmaps them when it is freed. A gate's statistics
build whole-table arrays one after another (each uniqueness key's values and counts: 40 MB
apiece at 5M rows), and each is faulted in page by page: about a third of the mixed gate
suite's wall on the development VM. With the mmap threshold at 256 MiB and the trim
threshold at 512 MiB for the compute, freed arrays stay mapped for the next: that suite
took 0.44-0.52 s instead of 0.55-0.60 s, for about 200 MiB more at the peak
(``benchmarks/RESULTS.md``, issue 15). After the compute both thresholds go back to
glibc's ceiling for its adaptive values (32 MiB, and twice that to trim), and
``malloc_trim`` returns what was kept.

Only gated runs computed in process ask for it: they hold under an eighth of memory by
rule, and the gate is where the faults cost most. The standard job without gates ran 8%
faster with it but peaked 15-20% higher, a trade not taken. Elsewhere than glibc (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
KEPT_MMAP_THRESHOLD = 256 << 20
KEPT_TRIM_THRESHOLD = 512 << 20
RESTORED_MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
RESTORED_TRIM_THRESHOLD = 2 * RESTORED_MMAP_THRESHOLD  # what glibc pairs with it

_lock = threading.Lock()
_depth = 0  # runs inside ``kept`` now (one process may compute several at once)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _set(mmap_threshold: int, trim_threshold: int) -> bool:
    libc = _glibc()
    if libc is None:
        return False
    # mallopt answers 1 where it took the value
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
                and libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))


@contextmanager
def kept(wanted: bool = True) -> Iterator[None]:
    """Inside, freed memory stays in the heap (``wanted``; see the module docstring); the
    thresholds are restored and the heap trimmed when the last such scope ends."""
    global _depth
    if not wanted:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1 and not _set(KEPT_MMAP_THRESHOLD, KEPT_TRIM_THRESHOLD):
            log.debug("malloc thresholds unchanged: not glibc")
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _set(RESTORED_MMAP_THRESHOLD, RESTORED_TRIM_THRESHOLD):
                trim()


def trim() -> bool:
    """Give the heap's free pages back to the kernel (glibc's ``malloc_trim``); False where
    the allocator is not glibc's."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
