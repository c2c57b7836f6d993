"""Reading a published dataset's versions back from its Delta log, for ``assay inspect``."""

from __future__ import annotations

import json
from typing import Any

from assay.pipelines import table as delta
from assay.pipelines.staging import sink_fs


def list_versions(sink_path: str, storage_options: dict[str, Any] | None = None) -> list[dict]:
    """One entry per committed version, oldest first, with its run's manifest figures."""
    options = storage_options or {}
    table = delta.open_table(sink_path, options)
    if table is None:
        return []
    fs, root = sink_fs(sink_path, options)
    latest = table.version()
    versions = []
    for commit in sorted(table.history(), key=lambda c: c["version"]):
        path = commit.get("assay.manifest")
        manifest = json.loads(fs.cat_file(f"{root}/{path}")) if path else {}
        versions.append({
            "version": commit["version"],
            "created_at": manifest.get("created_at"),
            "mode": commit.get("assay.mode"),
            "rows_added": manifest.get("rows_added"),
            "rows": manifest.get("rows"),
            "shards": len(manifest.get("shards", [])),
            "quarantined": manifest.get("accounting", {}).get("rows_quarantined", 0),
            "gates": [{"name": g["name"], "success": g["success"]}
                      for g in manifest.get("gates", [])],
            "latest": commit["version"] == latest,
            "backend": manifest.get("backend"),
        })
    return versions
