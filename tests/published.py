"""Reading a published dataset back in tests, through delta-rs (the plain reader)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

RUN_IN_NAME = re.compile(r"part-\d{8}T\d{6}Z-[0-9a-f]{8}-")


def latest_version(sink: Path | str) -> int | None:
    """The table's current version; None where nothing was ever committed."""
    if not (Path(sink) / "_delta_log").is_dir():
        return None
    return DeltaTable(str(sink)).version()


def commits(sink: Path | str) -> list[dict[str, Any]]:
    """The data commits, oldest first (their assay metadata included)."""
    return sorted(DeltaTable(str(sink)).history(), key=lambda c: c["version"])


def manifest_of(sink: Path | str, version: int | None = None) -> dict[str, Any]:
    """The manifest of the run that made ``version`` (default: the latest)."""
    wanted = latest_version(sink) if version is None else version
    commit = next(c for c in commits(sink) if c["version"] == wanted)
    return json.loads((Path(sink) / commit["assay.manifest"]).read_text())


def rows_of(sink: Path | str, version: int | None = None) -> pa.Table:
    return DeltaTable(str(sink), version=version).to_pyarrow_table()


def shard_bytes(sink: Path | str, version: int | None = None) -> dict[str, bytes]:
    """The bytes of every file the version reads, by name without the run id (two equal
    runs give equal keys)."""
    table = DeltaTable(str(sink), version=version)
    paths = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    return {RUN_IN_NAME.sub("part-", path): (Path(sink) / path).read_bytes() for path in paths}


def quarantine_of(sink: Path | str, run_id: str) -> list[dict[str, Any]]:
    """The rows the run ``run_id`` quarantined, in file order, without the run id."""
    folder = Path(sink) / "_quarantine"
    if not (folder / "_delta_log").is_dir():
        return []
    table = DeltaTable(str(folder)).to_pyarrow_table(
        partitions=[("run_id", "=", run_id)])
    rows = table.drop_columns(["run_id"]).to_pylist()
    return sorted(rows, key=lambda r: (r["_source_file"], r["_source_line"]))


def leftovers(sink: Path | str) -> list[str]:
    """What a finished or crashed-and-cleaned run must not leave: staged files, and data,
    dedup index or quarantine files of runs no commit records."""
    root = Path(sink)
    staging = root / "_assay" / "staging"
    found = [str(p) for p in staging.iterdir()] if staging.is_dir() else []
    table = DeltaTable(str(root)) if (root / "_delta_log").is_dir() else None
    for path in [*root.glob("part-*.parquet"), *root.glob("split=*/part-*.parquet")]:
        run_id = path.name[len("part-"):].rsplit("-", 1)[0]
        if table is None or table.transaction_version(f"assay-run-{run_id}") is None:
            found.append(str(path))
    for path in (root / "_assay" / "index").glob("*/*/*.*"):  # bucket=*/<run>-p*, runs/<run>
        run_id = path.stem.rsplit("-p", 1)[0]
        if table is None or table.transaction_version(f"assay-run-{run_id}") is None:
            found.append(str(path))
    quarantine = root / "_quarantine"
    committed = DeltaTable(str(quarantine)) if (quarantine / "_delta_log").is_dir() else None
    for folder in quarantine.glob("run_id=*"):
        run_id = folder.name.split("=", 1)[1]
        if committed is None or committed.transaction_version(f"assay-run-{run_id}") is None:
            found.append(str(folder))
    return found
