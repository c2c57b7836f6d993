"""Check that the files a version reads are the bytes assay published: each live shard's
sha256 against the one its run's manifest recorded."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.dataset_log import manifest_path, read_json, run_of_shard
from assay.pipelines.errors import DatasetCorrupt

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

_CHUNK = 1 << 20
_THREADS = 8  # hashes in parallel (hashlib releases the GIL; delta-rs's reads hold it)
_SHOWN = 20  # problems listed in the error; the rest are counted


@dataclass(frozen=True)
class Verified:
    """What ``Dataset.verify()`` checked: every live file of ``version`` matched."""

    version: int
    files: int
    bytes: int
    runs: tuple[str, ...]  # the runs whose shards make up the version


def verify_files(fs: FileSystem, paths: list[str], *, version: int, where: str) -> Verified:
    """Hash every path (relative to the table root) and compare it with its run's manifest;
    raise DatasetCorrupt naming ``where`` (the dataset) and each file missing or changed."""
    expected, problems = _expected_hashes(fs, paths)
    checkable = [path for path in paths if path in expected]
    with ThreadPoolExecutor(_THREADS) as pool:
        found = dict(zip(checkable, pool.map(lambda path: _sha256(fs, path), checkable),
                         strict=True))
    for path in checkable:
        actual, want = found[path], expected[path]
        if actual is None:
            problems.append(f"{path}: missing from storage (version {version} lists it)")
        elif actual[0] != want[0]:
            problems.append(f"{path}: sha256 {actual[0]}, but {want[1]} records {want[0]}")
    if problems:
        more = len(problems) - _SHOWN
        raise DatasetCorrupt("\n".join([
            f"{where} version {version}: {len(problems)} of {len(paths)} files failed "
            "verification",
            *problems[:_SHOWN], *([f"... and {more} more"] if more > 0 else [])]))
    return Verified(version=version, files=len(paths),
                    bytes=sum(entry[1] for entry in found.values() if entry),
                    runs=tuple(sorted({run for path in paths if (run := run_of_shard(path))})))


def _expected_hashes(fs: FileSystem, paths: list[str],
                     ) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The sha256 each path's run recorded (with that run's manifest path), and a line for
    each path that has none."""
    expected: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    runs: dict[str, dict[str, str] | None] = {}
    for path in paths:
        run_id = run_of_shard(path)
        if run_id is None:
            problems.append(f"{path}: not an assay shard (no run id in its name)")
            continue
        if run_id not in runs:
            runs[run_id] = _run_hashes(fs, run_id)
        hashes = runs[run_id]
        if hashes is None:
            problems.append(f"{path}: its run's manifest {manifest_path(run_id)} is missing")
        elif path not in hashes:
            problems.append(f"{path}: not among the shards of {manifest_path(run_id)}")
        else:
            expected[path] = (hashes[path], manifest_path(run_id))
    return expected, problems


def _run_hashes(fs: FileSystem, run_id: str) -> dict[str, str] | None:
    try:
        manifest = read_json(fs, manifest_path(run_id))
    except FileNotFoundError:
        return None
    return {shard["path"]: shard["sha256"] for shard in manifest["shards"]}


def _sha256(fs: FileSystem, path: str) -> tuple[str, int] | None:
    """The file's sha256 and size, or None when it is missing."""
    digest, size = hashlib.sha256(), 0
    try:
        with fs.open_input_stream(path) as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest(), size
