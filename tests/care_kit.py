"""Delta tables laid out by hand as the table contract says the engine publishes them, for
the tests of inspect, diff, vacuum and convert: shards written with pyarrow, committed with
delta-rs add actions, commit metadata and upload transactions, each run's manifest under
``_assay/runs/<run_id>/``. The contract's names are spelled out here on purpose, so a typo in
the code under test does not pass by agreeing with itself."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, Transaction
from deltalake.transaction import AddAction, create_table_with_add_actions


def gate(name: str = "quality", policy: str = "quarantine", success: bool = True,
         quarantined: int = 0) -> dict[str, Any]:
    """A gate's manifest entry (``commit_run`` adds its ``result_path``)."""
    failed = [] if success else ["expect_column_values_to_not_be_null"]
    return {"name": name, "policy": policy, "success": success,
            "rows_quarantined": quarantined, "row_level_failed": failed,
            "aggregate_failed": [], "statistics": {}}


def commit_run(root: Path, tables: dict[str | None, pa.Table], *, mode: str = "append",
               run_id: str | None = None, gates: list[dict] | None = None,
               uploads: list[str] | None = None) -> int:
    """Publish one run: ``tables`` maps a split name (None without a split) to its rows.
    Returns the version committed."""
    root.mkdir(parents=True, exist_ok=True)
    run_id = run_id or f"run{time.time_ns()}"
    table = DeltaTable(str(root)) if DeltaTable.is_deltatable(str(root)) else None
    version = 0 if table is None else table.version() + 1
    split = any(name is not None for name in tables)
    actions, shards = [], []
    for number, (name, rows) in enumerate(tables.items()):
        relative = f"part-{run_id}-{number:05d}.parquet"
        if name is not None:
            relative = f"split={name}/{relative}"
        shards.append(_write(root, relative, rows, name))
        actions.append(AddAction(relative, shards[-1]["bytes"],
                                 {"split": name} if name is not None else {},
                                 int(time.time() * 1000), True,
                                 json.dumps({"numRecords": rows.num_rows})))
    schema = next(iter(tables.values())).schema
    if split:
        schema = schema.append(pa.field("split", pa.string()))
    added = sum(t.num_rows for t in tables.values())
    rows_after = added + (0 if table is None or mode == "overwrite" else _rows(table))
    inputs = [{"path": p, "sha256": hashlib.sha256(p.encode()).hexdigest()}
              for p in uploads or []]
    manifest = f"_assay/runs/{run_id}/manifest.json"
    _write_manifest(root / manifest, {
        "version": version, "created_at": datetime.now(UTC).isoformat(), "run_id": run_id,
        "pipeline": "kit", "mode": mode, "rows": rows_after, "rows_added": added,
        "shards": shards, "inputs": inputs,
        "accounting": {"rows_quarantined": sum(g["rows_quarantined"] for g in gates or [])},
        "gates": [{**g, "result_path": f"_assay/runs/{run_id}/gates/{g['name']}.json"}
                  for g in gates or []],
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                   for f in schema]})
    properties = CommitProperties(
        custom_metadata={
            "assay.run_id": run_id, "assay.pipeline": "kit", "assay.mode": mode,
            "assay.rows_added": str(added), "assay.manifest": manifest,
            "assay.uploads": json.dumps([{"path": i["path"], "sha256": i["sha256"]}
                                         for i in inputs])},
        app_transactions=[Transaction(f"assay-upload-{i['sha256']}", 1) for i in inputs])
    partition_by = ["split"] if split else None
    if table is None:
        create_table_with_add_actions(str(root), Schema.from_arrow(schema), actions,
                                      mode="error", partition_by=partition_by,
                                      commit_properties=properties)
    else:
        table.create_write_transaction(actions, mode, schema, partition_by=partition_by,
                                       commit_properties=properties)
    return version


def rows_at(root: Path, version: int | None = None) -> list[dict]:
    """A version's rows, sorted, read with delta-rs (time travel)."""
    rows = DeltaTable(str(root), version=version).to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))


def backdate(path: Path, seconds: float) -> None:
    """Make a file look ``seconds`` older (a crashed run's leftover from the past)."""
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def _write(root: Path, relative: str, rows: pa.Table, split: str | None) -> dict[str, Any]:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, path)
    data = path.read_bytes()
    return {"path": relative, "split": split, "rows": rows.num_rows, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def _rows(table: DeltaTable) -> int:
    return sum(n or 0 for n in pa.table(table.get_add_actions(flatten=True))
               .column("num_records").to_pylist())


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2))
