"""What the fault tests share: a dataset with some of everything, the comparison of two
published versions, and fsspec filesystems that misbehave on purpose (a disk that fills up,
a store whose reads fail, a bug under the reads), registered under test protocols."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

from tests.published import latest_version, leftovers, manifest_of, quarantine_of, shard_bytes

# Several blocks and partitions, a dedup shuffle, rows quarantined by the reader and by a
# gate: every stage a kill can interrupt has work to do.
SPEC = """\
name: faults
source: {{paths: [uploads], block_size: 128KiB}}
schema:
  columns:
    - {{name: id, type: int64}}
    - {{name: user}}
    - {{name: amount, type: float64}}
steps:
  - {{op: normalize, columns: [user], case: upper}}
  - {{op: dedup}}
gates:
  - name: quality
    expectations:
      - {{type: expect_column_values_to_be_between,
         kwargs: {{column: amount, min_value: 0, max_value: 900}}}}
    policy: quarantine
sink: {{path: out, target_shard_bytes: 64KiB, row_group_rows: 2000}}
cluster: {{workers: {workers}, processes: false}}
"""
VOLATILE = ("version", "created_at", "run_id")  # what differs between equal runs


def write_uploads(folder: Path, rows: int = 30_000) -> Path:
    """``folder/uploads/a.csv``: duplicates, unparseable amounts, amounts a gate refuses."""
    uploads = folder / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    lines = ["id,user,amount"]
    for i in range(rows):
        amount = "notanumber" if i % 997 == 0 else f"{(i * 37) % 1000}.5"
        lines.append(f"{i % (rows * 2 // 3)},user{i % 50},{amount}")
    (uploads / "a.csv").write_text("\n".join(lines) + "\n")
    return uploads


def write_spec(folder: Path, workers: int = 2) -> Path:
    spec = folder / "pipeline.yaml"
    spec.write_text(SPEC.format(workers=workers))
    return spec


def latest(sink: Path) -> int | None:
    return latest_version(sink)


def comparable(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest without what differs between two equal runs: times, run ids, versions
    (and the run id in the names of its files)."""
    kept = {k: v for k, v in manifest.items() if k not in VOLATILE}
    text = json.dumps(kept, sort_keys=True).replace(manifest["run_id"], "<run>")
    return json.loads(text)


def read_version(sink: Path, version: int) -> dict[str, Any]:
    """A version read back in full: its run's manifest, every file it reads (by name without
    the run id; their rows checked against the manifest) and its run's quarantined rows."""
    manifest = manifest_of(sink, version)
    for shard in manifest["shards"]:
        assert pq.read_metadata(sink / shard["path"]).num_rows == shard["rows"]
    quarantine = sorted((r["_source_line"], r["_reasons"])
                        for r in quarantine_of(sink, manifest["run_id"]))
    return {"manifest": comparable(manifest), "shards": shard_bytes(sink, version),
            "quarantine": quarantine}


def assert_same_dataset(sink: Path, version: int, reference_sink: Path, reference: int,
                        quarantine: bool = True) -> None:
    """Byte-identical shards, equal manifests but for times and ids, and (unless the
    quarantine's commit is still to come) equal quarantine rows."""
    got, want = read_version(sink, version), read_version(reference_sink, reference)
    assert got["shards"].keys() == want["shards"].keys()
    assert got["shards"] == want["shards"]
    if quarantine:
        assert got["quarantine"] == want["quarantine"]
    assert got["manifest"] == want["manifest"]


def assert_nothing_left(sink: Path, version: int) -> None:
    """``version`` is the latest, and no run left staged, uncommitted or orphaned files."""
    assert latest_version(sink) == version
    assert leftovers(sink) == []


class _BudgetFile(LocalFileOpener):
    def write(self, data: Any) -> int:
        self.fs.spend(self.path, len(data))
        return super().write(data)


class BudgetFileSystem(LocalFileSystem):
    """The local disk with a byte budget shared by every instance (fsspec makes one per
    thread): once ``budget`` bytes are written, writes fail with ENOSPC, as a full disk's."""

    protocol = ("budget",)
    budget: ClassVar[int | None] = None
    _spent: ClassVar[int] = 0
    _lock = threading.Lock()

    @classmethod
    def limit(cls, budget: int | None) -> None:
        with cls._lock:
            cls.budget, cls._spent = budget, 0

    def spend(self, path: str, size: int) -> None:
        with self._lock:
            type(self)._spent += size
            if self.budget is not None and self._spent > self.budget:
                raise OSError(errno.ENOSPC, "No space left on device", path)

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any):
        path = self._strip_protocol(path)
        if "w" in mode or "a" in mode:
            self.makedirs(self._parent(path), exist_ok=True)
            return _BudgetFile(path, mode, fs=self, **kwargs)
        return super()._open(path, mode, block_size, **kwargs)


class FlakyFileSystem(LocalFileSystem):
    """The local disk, read as a flaky object store: the next ``failures`` opens made by a
    Dask task (the engine's reads, not the planning pass) fail as a reset connection."""

    protocol = ("flaky",)
    failures: ClassVar[int] = 0
    failed: ClassVar[int] = 0
    _lock = threading.Lock()

    @classmethod
    def arm(cls, failures: int) -> None:
        with cls._lock:
            cls.failures, cls.failed = failures, 0

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any):
        if "r" in mode and _in_dask_task():
            with self._lock:
                cls = type(self)
                if cls.failed < cls.failures:
                    cls.failed += 1
                    raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        return super()._open(path, mode, block_size, **kwargs)


class _BuggyFile(LocalFileOpener):
    def read(self, *args: Any) -> bytes:
        if _in_dask_task():
            with BuggyFileSystem._lock:
                BuggyFileSystem.reads += 1
            raise TypeError("read() got an unexpected keyword argument 'fetch'")
        return super().read(*args)


class BuggyFileSystem(LocalFileSystem):
    """The local disk with a bug under its reads: every read made by a Dask task raises
    TypeError, as a programming error (not a storage failure) would."""

    protocol = ("buggy",)
    reads: ClassVar[int] = 0
    _lock = threading.Lock()

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any):
        if "r" in mode:
            return _BuggyFile(self._strip_protocol(path), mode, fs=self, **kwargs)
        return super()._open(path, mode, block_size, **kwargs)


def _in_dask_task() -> bool:
    """Inside a task: on a distributed worker, or under Dask's local scheduler (a run
    computed in its own process, ``assay.pipelines.in_process``)."""
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return _in_local_scheduler_task()
    return True


def _in_local_scheduler_task() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "execute_task" and code.co_filename.endswith(f"dask{os.sep}local.py"):
            return True
        frame = frame.f_back
    return False


def register_faulty_filesystems() -> None:
    fsspec.register_implementation("budget", BudgetFileSystem, clobber=True)
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    fsspec.register_implementation("buggy", BuggyFileSystem, clobber=True)
