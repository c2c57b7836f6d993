"""Opening a published dataset's Delta table for looking after it (inspect, diff, vacuum).

Each way a path can fail to be one (missing, a folder of something else, the old layout of
version folders, a version the log does not hold) is one ``DatasetError`` line naming the
path, so the CLI prints it and exits 2 instead of showing delta-rs's error.
"""

from __future__ import annotations

from urllib.parse import unquote

import fsspec
import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from assay.pipelines.errors import DatasetError
from assay.pipelines.old_layout import refuse_old_layout
from assay.pipelines.staging import sink_fs
from assay.pipelines.table import table_uri

# ``assay convert`` marks the commits it made from the old layout's version folders
CONVERTED_FROM = "assay.converted_from"


def dataset_fs(path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The dataset's filesystem and root (credentials from the environment)."""
    return sink_fs(path, {})


def open_table(path: str, version: int | None = None) -> DeltaTable:
    """The dataset's table at ``version`` (default: the latest)."""
    fs, root = dataset_fs(path)
    if not fs.isdir(root):
        raise DatasetError(f"{path}: no such directory")
    refuse_old_layout(fs, root, path)
    try:
        table = DeltaTable(table_uri(path))
    except TableNotFoundError:
        raise DatasetError(f"{path}: not a Delta table (no _delta_log/)") from None
    if version is not None:
        check_version(path, table.history(), version)
        table.load_as_version(version)
    return table


def check_version(path: str, history: list[dict], version: int) -> None:
    """A version the log (``history`` of the latest version) holds, or a line naming the
    latest, and the oldest where the log no longer goes back to ``version``."""
    versions = [entry["version"] for entry in history]
    latest, oldest = max(versions), min(versions)
    if not 0 <= version <= latest:
        raise DatasetError(f"{path}: no version {version} (the latest is version {latest})")
    if version < oldest:
        raise DatasetError(f"{path}: version {version} is no longer in the log (the oldest "
                           f"is version {oldest}, the latest version {latest})")


def live_files(table: DeltaTable) -> dict[str, int]:
    """The files the table's loaded version reads, by their paths relative to the root
    (decoded: the log percent-encodes them, ``split=a%20b/``), with their record counts (the
    add actions' ``numRecords``; 0 where a writer left it out)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    paths = actions.column("path").to_pylist()
    counts = actions.column("num_records").to_pylist()
    return {unquote(path): int(n or 0) for path, n in zip(paths, counts, strict=True)}


def data_files(fs: fsspec.AbstractFileSystem, root: str) -> set[str]:
    """The paths (relative to the root) of the files a version can read: all but those in
    underscore and dot folders."""
    found = set()
    for full in fs.find(root):
        relative = full[len(root) + 1:]
        if not relative.startswith(("_", ".")):
            found.add(relative)
    return found
