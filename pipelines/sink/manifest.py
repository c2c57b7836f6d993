"""The manifest: what a training job needs to trust a dataset version."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pyarrow as pa

from assay.pipelines.table import QUARANTINE, RUNS


def _assay_version() -> str:
    try:
        return version("assay")
    except PackageNotFoundError:
        return "unknown"


def schema_entries(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def build_manifest(staged: Any, version: int, shards: list[dict], previous_rows: int) -> dict:
    """Every field of the dataset contract in DESIGN.md; paths relative to the table root.
    ``previous_rows`` are the rows the new version keeps from the one before (0 when it
    overwrites)."""
    plan, accounting = staged.plan, staged.accounting
    run_folder = f"{RUNS}/{plan.run_id}"
    splits: dict[str, int] = {}
    for shard in shards:
        if shard.get("split"):
            splits[shard["split"]] = splits.get(shard["split"], 0) + shard["rows"]
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "run_id": plan.run_id,
        "pipeline": plan.spec.name,
        "mode": plan.mode,
        "spec_sha256": plan.spec.sha256(),
        "assay_version": _assay_version(),
        "backend": staged.backend,
        "rows": previous_rows + accounting.rows_written,
        "rows_added": accounting.rows_written,
        "shards": shards,
        "schema": schema_entries(staged.schema),
        "inputs": [
            {"path": upload.url, "sha256": upload.sha256, "bytes": upload.found.size,
             "format": upload.found.format, "compression": upload.found.compression,
             "rows_read": accounting.rows_by_input.get(upload.url, 0)}
            for upload in plan.inputs
        ],
        "step_files": [{"step": step.label, **file} for step in plan.spec.steps
                       for file in step.bound_files()],
        "accounting": {k: v for k, v in accounting.as_dict().items() if k != "rows_by_input"},
        "gates": [{k: v for k, v in gate.items() if k != "result"}
                  | {"result_path": f"{run_folder}/gates/{gate['name']}.json"}
                  for gate in staged.gates],
        "quarantine": {"table": QUARANTINE, "run_id": plan.run_id,
                       "rows": accounting.rows_quarantined},
    }
    if splits:
        manifest["splits"] = splits
    return manifest
