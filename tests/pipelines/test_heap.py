"""Freed memory kept in the heap while a gated run computes in process."""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import psutil
import pyarrow as pa
import pytest

from assay.pipelines import heap, in_process

glibc_only = pytest.mark.skipif(heap._glibc() is None, reason="mallopt is glibc's")

BUFFER = 96 << 20  # above glibc's adaptive mmap threshold (at most 32 MiB)


def _resident() -> int:
    return psutil.Process().memory_info().rss


def _kept_after_filling() -> int:
    """Bytes of resident memory a ``BUFFER`` leaves behind once filled and freed: taken
    from the pool runs in process use (malloc; no huge pages asked for)."""
    before = _resident()
    buffer = pa.allocate_buffer(BUFFER, memory_pool=pa.system_memory_pool())
    ctypes.memset(buffer.address, 1, BUFFER)
    del buffer
    return _resident() - before


@glibc_only
def test_freed_memory_stays_inside_and_is_returned_after() -> None:
    assert _kept_after_filling() < BUFFER // 4  # glibc's default: unmapped on free
    start = _resident()
    with heap.kept():
        assert _kept_after_filling() > BUFFER // 2
    assert _resident() - start < BUFFER // 4  # trimmed when the scope ends
    assert _kept_after_filling() < BUFFER // 4  # and unmapped on free again


@glibc_only
def test_only_the_last_of_overlapping_scopes_restores() -> None:
    entered, leave = threading.Event(), threading.Event()

    def other_run() -> None:
        with heap.kept():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other_run)
    thread.start()
    entered.wait(10)
    start = _resident()
    try:
        with heap.kept():
            pass
        assert _kept_after_filling() > BUFFER // 2  # the other run still keeps the heap
    finally:
        leave.set()
        thread.join()
    assert _resident() - start < BUFFER // 4


def test_not_wanted_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(heap, "_set", lambda *values: calls.append(values) or True)
    with heap.kept(False):
        pass
    assert calls == []
    with heap.kept(True):
        pass
    assert calls == [(heap.KEPT_MMAP_THRESHOLD, heap.KEPT_TRIM_THRESHOLD),
                     (heap.RESTORED_MMAP_THRESHOLD, heap.RESTORED_TRIM_THRESHOLD)]


@pytest.mark.parametrize("gated", [True, False])
def test_the_threaded_scheduler_keeps_the_heap_for_gated_runs_only(
        monkeypatch: pytest.MonkeyPatch, gated: bool) -> None:
    scopes: list[bool] = []
    real = heap.kept

    def recorded(wanted: bool = True) -> Any:
        scopes.append(wanted)
        return real(wanted)

    monkeypatch.setattr(heap, "kept", recorded)
    with in_process.threaded(2, gated=gated):
        pass
    assert scopes == [gated]
