"""What the Delta log says about the runs that made a dataset (the table contract).

Each data commit of an assay run carries ``assay.*`` keys in its ``commitInfo``; each shard
is named ``part-<run_id>-<nnnnn>.parquet``; each run's manifest lies at
``_assay/runs/<run_id>/manifest.json``. The commit info is read from the version's own log
entry (``_delta_log/<version>.json``) because delta-rs 1.6's ``DeltaTable.history()`` on a
table loaded at an older version lists the newer commits too, numbered from the loaded
version down, so its numbers would name the wrong commits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assay.pipelines.table import commit_info

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

_SHARD = re.compile(r"(?:^|/)part-(?P<run_id>.+)-\d{5}\.parquet$")


@dataclass(frozen=True)
class VersionInfo:
    """One version of the dataset as its commit describes it. A commit that no assay run made
    (a ``vacuum``, say) has ``run_id`` None and no other ``assay.*`` values."""

    version: int
    timestamp: datetime  # UTC, when the commit was made
    operation: str  # Delta's: ``CREATE TABLE`` for version 0, then ``WRITE``
    run_id: str | None
    pipeline: str | None
    mode: str | None  # ``append`` or ``overwrite``
    rows_added: int | None
    uploads: tuple[dict[str, str], ...]  # ``{"path", "sha256"}`` of each ingested upload
    manifest_path: str | None  # relative to the table root


def read_version_info(fs: FileSystem, version: int) -> VersionInfo | None:
    """The commit of ``version``, or None when its log entry is gone (Delta's log retention
    removes old entries once a checkpoint covers them)."""
    try:
        with fs.open_input_stream(f"_delta_log/{version:020d}.json") as stream:
            info = commit_info(stream.read().decode())
    except FileNotFoundError:
        return None
    rows = info.get("assay.rows_added")
    return VersionInfo(
        version=version,
        timestamp=datetime.fromtimestamp(info.get("timestamp", 0) / 1000, tz=UTC),
        operation=info.get("operation", ""),
        run_id=info.get("assay.run_id"),
        pipeline=info.get("assay.pipeline"),
        mode=info.get("assay.mode"),
        rows_added=None if rows is None else int(rows),
        uploads=tuple(json.loads(info.get("assay.uploads", "[]"))),
        manifest_path=info.get("assay.manifest"),
    )


def run_of_shard(path: str) -> str | None:
    """The run id in a shard's file name, or None for a file no assay run wrote."""
    match = _SHARD.search(path)
    return match["run_id"] if match else None


def manifest_path(run_id: str) -> str:
    """Where a run's manifest lies, relative to the table root."""
    return f"_assay/runs/{run_id}/manifest.json"


def read_json(fs: FileSystem, path: str) -> Any:
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read())
