"""One run at a time per dataset: an exclusive file lock keyed by the sink.

A run cleans the staging leftovers of dead runs and commits the table's next version, so
two runs writing the same dataset at once could delete each other's staging, or both
append one upload (delta-rs would land both commits). The lock is an OS file lock
(``flock``): the kernel releases it when its holder dies, so a crashed run never leaves the
dataset locked. It serialises runs on one machine
(every process that shares the data directory).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assay.pipelines.errors import AssayError


class LockTimeout(AssayError):
    """Another run held the dataset's lock for longer than we were willing to wait."""


def lock_path(sink: str, data_dir: Path) -> Path:
    """The lock file of a dataset: its sink URL (or absolute path) hashed, so any sink
    (local or an object store) gets a safe local file name."""
    key = sink if "://" in sink else str(Path(sink).resolve())
    return data_dir / "locks" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"


@contextmanager
def dataset_lock(sink: str, data_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the dataset's lock for the block; wait for it (forever, or ``timeout`` seconds)."""
    path = lock_path(sink, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeout(f"{sink}: another run holds the dataset's lock "
                                      f"({path}); gave up after {timeout:g} s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
