"""Datasets in the published layout (a Delta table, /work/table-contract.md), made by hand
for reader tests: shards written with pyarrow, committed with delta-rs's commit API, the
way the engine's publish does, with the commit metadata, application transactions and
manifests the contract names. Each ``publish`` is one run and one version."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    Transaction,
    create_table_with_add_actions,
)

SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("text", pa.string()),
    ("score", pa.float64()),
    ("ok", pa.bool_()),
    ("at", pa.timestamp("us", tz="UTC")),
    ("tags", pa.list_(pa.string())),
])
START = datetime(2026, 1, 1, tzinfo=UTC)


def rows(first: int, count: int) -> pa.Table:
    """Rows with ids ``first`` .. ``first + count - 1``, with nulls and every type above."""
    ids = range(first, first + count)
    return pa.table({
        "id": list(ids),
        "text": [None if i % 5 == 0 else f"row {i}" for i in ids],
        "score": [i / 4 for i in ids],
        "ok": [i % 2 == 0 for i in ids],
        "at": [START + timedelta(minutes=i) for i in ids],
        "tags": [[f"t{i % 3}"] * (i % 3) for i in ids],
    }, schema=SCHEMA)


@dataclass
class TableKit:
    """A dataset at ``root``; ``split`` makes it partitioned by ``split``."""

    root: Path
    split: bool = False
    run_ids: list[str] = field(default_factory=list)
    rows_now: int = 0

    def publish(self, data: pa.Table | dict[str, pa.Table], mode: str = "append",
                shard_rows: int = 10, uploads: list[str] | None = None) -> int:
        """One run: shards of ``shard_rows`` rows (``data`` by split name when split), its
        manifest, and one commit; returns the version it made."""
        version = len(self.run_ids)
        started = START + timedelta(hours=version)  # as the engine's run ids: time first
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{os.urandom(4).hex()}"
        parts = data if isinstance(data, dict) else {None: data}
        assert (None not in parts) == self.split, "split data by name exactly when split"
        pieces = [(split, table.slice(start, shard_rows)) for split, table in parts.items()
                  for start in range(0, table.num_rows, shard_rows)]
        shards = [self._write_shard(run_id, number, split, piece)
                  for number, (split, piece) in enumerate(pieces)]
        added = sum(table.num_rows for table in parts.values())
        self.rows_now = added if mode == "overwrite" else self.rows_now + added
        upload_hashes = [{"path": name, "sha256": hashlib.sha256(name.encode()).hexdigest()}
                         for name in uploads or [f"uploads/{run_id}.csv"]]
        manifest = self._manifest(version, run_id, mode, added, shards, upload_hashes, parts)
        manifest_rel = f"_assay/runs/{run_id}/manifest.json"
        (self.root / manifest_rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / manifest_rel).write_text(json.dumps(manifest, indent=2))
        self._commit([self._add_action(shard) for shard in shards], mode, CommitProperties(
            custom_metadata={
                "assay.run_id": run_id,
                "assay.pipeline": "events",
                "assay.mode": mode,
                "assay.rows_added": str(added),
                "assay.uploads": json.dumps(upload_hashes),
                "assay.manifest": manifest_rel,
            },
            app_transactions=[Transaction(f"assay-run-{run_id}", version)] + [
                Transaction(f"assay-upload-{upload['sha256']}", version)
                for upload in upload_hashes]))
        self.run_ids.append(run_id)
        return version

    @property
    def delta_schema(self) -> pa.Schema:
        return SCHEMA.append(pa.field("split", pa.string())) if self.split else SCHEMA

    def _write_shard(self, run_id: str, number: int, split: str | None,
                     table: pa.Table) -> dict:
        path = f"part-{run_id}-{number:05d}.parquet"
        if split is not None:
            path = f"split={split}/{path}"
        (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.root / path, compression="zstd")
        data = (self.root / path).read_bytes()
        return {"path": path, "split": split, "rows": table.num_rows, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}

    def _add_action(self, shard: dict) -> AddAction:
        mtime = int((self.root / shard["path"]).stat().st_mtime * 1000)
        return AddAction(path=shard["path"], size=shard["bytes"],
                         partition_values={"split": shard["split"]} if self.split else {},
                         modification_time=mtime, data_change=True,
                         stats=json.dumps({"numRecords": shard["rows"]}))

    def _commit(self, actions: list[AddAction], mode: str,
                properties: CommitProperties) -> None:
        partition_by = ["split"] if self.split else None
        schema = Schema.from_arrow(self.delta_schema)
        if not self.run_ids:
            create_table_with_add_actions(str(self.root), schema, actions, mode="error",
                                          partition_by=partition_by,
                                          commit_properties=properties)
        else:
            DeltaTable(self.root).create_write_transaction(
                actions, mode=mode, schema=schema, partition_by=partition_by,
                commit_properties=properties)

    def _manifest(self, version: int, run_id: str, mode: str, added: int, shards: list[dict],
                  uploads: list[dict], parts: dict) -> dict:
        manifest = {
            "version": version,
            "created_at": (START + timedelta(hours=version)).isoformat(),
            "run_id": run_id, "pipeline": "events", "mode": mode,
            "spec_sha256": "0" * 64, "assay_version": "0.1.0", "backend": "pandas",
            "rows": self.rows_now, "rows_added": added, "shards": shards,
            "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                       for f in SCHEMA],
            "inputs": [{**upload, "bytes": 0, "format": "csv", "compression": None,
                        "rows_read": added} for upload in uploads],
            "accounting": {"rows_read": added, "rows_written": added, "rows_quarantined": 0,
                           "rows_dropped": 0, "quarantined_by_reason": {},
                           "dropped_by_step": {}},
            "gates": [],
            "quarantine": {"rows": 0, "table": "_quarantine"},
        }
        if self.split:
            manifest["splits"] = {name: table.num_rows for name, table in parts.items()}
        return manifest
