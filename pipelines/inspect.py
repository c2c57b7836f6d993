"""Reading a published dataset's versions back, for ``assay inspect`` and tests."""

from __future__ import annotations

import json
from typing import Any

from assay.pipelines.staging import sink_fs
from assay.pipelines.versions import read_latest, version_numbers


def list_versions(sink_path: str, storage_options: dict[str, Any] | None = None) -> list[dict]:
    """One entry per version folder with a manifest, oldest first."""
    fs, root = sink_fs(sink_path, storage_options or {})
    latest = read_latest(fs, root)
    versions = []
    for number in version_numbers(fs, root):
        name = f"v{number:06d}"
        path = f"{root}/{name}/manifest.json"
        if not fs.exists(path):
            continue
        manifest = json.loads(fs.cat_file(path))
        versions.append({
            "version": name,
            "created_at": manifest.get("created_at"),
            "rows": manifest.get("rows"),
            "shards": len(manifest.get("shards", [])),
            "quarantined": manifest.get("accounting", {}).get("rows_quarantined", 0),
            "gates": [{"name": g["name"], "success": g["success"]}
                      for g in manifest.get("gates", [])],
            "latest": name == latest,
            "backend": manifest.get("backend"),
        })
    return versions
