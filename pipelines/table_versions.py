"""A published dataset's versions, as ``assay inspect`` lists them.

When and how each version came (run id, mode, uploads) and its rows come from the Delta log;
its gates and the rows it quarantined from the manifest of the run that committed it. A
version stays listed after ``assay vacuum`` removed its files (its commit is still in the
log), so each says whether every file it reads is still there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fsspec
from deltalake.exceptions import TableNotFoundError

from assay.pipelines.summary import GateOutcome
from assay.pipelines.table import MANIFEST, MODE, ROWS_ADDED, RUN_ID, RUNS, UPLOADS
from assay.pipelines.table_access import (
    CONVERTED_FROM,
    data_files,
    dataset_fs,
    live_files,
    open_table,
)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    committed_at: datetime
    operation: str  # Delta's name for the commit: CREATE TABLE, WRITE, OPTIMIZE, ...
    run_id: str | None
    mode: str | None
    uploads: tuple[str, ...]  # the paths of the uploads the run ingested
    converted_from: str | None  # the old layout's version folder it was converted from
    rows_added: int | None  # None where the previous version's log is gone
    rows: int | None  # None where this version's own log is gone
    readable: bool  # every file this version reads is still there
    gates: tuple[GateOutcome, ...]
    rows_quarantined: int | None = None  # by the run (None: no run, or its manifest is gone)


def list_versions(path: str) -> list[VersionInfo]:
    """Every version the log holds, oldest first (the table is loaded at each in turn)."""
    table = open_table(path)
    fs, root = dataset_fs(path)
    present = data_files(fs, root)
    versions = []
    previous: dict[str, int] | None = None
    for entry in sorted(table.history(), key=lambda e: e["version"]):
        if entry["version"] == 0:
            previous = {}
        try:
            table.load_as_version(entry["version"])
            files: dict[str, int] | None = live_files(table)
        except TableNotFoundError:  # older commits cleaned up, no checkpoint before this one
            files = None
        versions.append(_describe(fs, root, entry, files, previous, present))
        previous = files
    return versions


def commit_time(entry: dict[str, Any]) -> datetime:
    """When a commit of ``DeltaTable.history()`` was made."""
    return datetime.fromtimestamp(entry["timestamp"] / 1000, UTC)


def _describe(fs: fsspec.AbstractFileSystem, root: str, entry: dict[str, Any],
              files: dict[str, int] | None, previous: dict[str, int] | None,
              present: set[str]) -> VersionInfo:
    if files is not None and previous is not None:
        rows_added: int | None = sum(n for p, n in files.items() if p not in previous)
    else:
        rows_added = int(entry[ROWS_ADDED]) if ROWS_ADDED in entry else None
    run_id = entry.get(RUN_ID)
    manifest = _manifest(fs, root, entry.get(MANIFEST)
                         or (f"{RUNS}/{run_id}/manifest.json" if run_id else None))
    return VersionInfo(
        version=entry["version"],
        committed_at=commit_time(entry),
        operation=str(entry.get("operation", "")),
        run_id=run_id,
        mode=entry.get(MODE),
        uploads=tuple(u["path"] for u in json.loads(entry.get(UPLOADS) or "[]")),
        converted_from=entry.get(CONVERTED_FROM),
        rows_added=rows_added,
        rows=None if files is None else sum(files.values()),
        readable=files is not None and present.issuperset(files),
        gates=tuple(GateOutcome.from_entry(g) for g in manifest.get("gates", [])),
        rows_quarantined=(manifest.get("accounting") or {}).get("rows_quarantined"),
    )


def _manifest(fs: fsspec.AbstractFileSystem, root: str, path: str | None) -> dict[str, Any]:
    """The run's manifest, or an empty one where there is no run or its manifest is gone."""
    if not path:
        return {}
    try:
        return json.loads(fs.cat_file(f"{root}/{path}"))
    except FileNotFoundError:
        return {}
