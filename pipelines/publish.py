"""Publishing a staged run atomically: staging → version folder → ``LATEST``.

The version folder is complete (shards, validation results, manifest last) before it is
renamed into place, and ``LATEST`` is switched last by an atomic rename, so a crash at any
point leaves the previous version as ``LATEST`` and readable. A version folder newer than
``LATEST`` can only be the leftover of a crash before the switch; the next publish removes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from assay.pipelines import killpoints
from assay.pipelines import staging as staging_area
from assay.pipelines.errors import storage_failure
from assay.pipelines.sink.manifest import build_manifest
from assay.pipelines.sink.shards import write_table
from assay.pipelines.versions import LATEST, remove_unpublished, renamed_by, version_numbers


@dataclass
class PublishedVersion:
    version: str
    path: str
    manifest: dict


def publish_run(staged) -> PublishedVersion:
    """Promote the staged run to the next version. A storage failure is one line naming
    the sink (``StorageError``); whatever it left is the next run's to clean."""
    try:
        return _publish(staged)
    except OSError as exc:
        raise storage_failure(staged.plan.sink_path, "publish", exc) from exc


def _publish(staged) -> PublishedVersion:
    """Every step either is done or finds its work done, so a publish that failed part way
    (the flow retries it) resumes where it stopped instead of failing on missing files."""
    plan = staged.plan
    options = plan.spec.sink.storage_options
    fs, root = staging_area.sink_fs(plan.sink_path, options)
    name = renamed_by(fs, root, plan.run_id)
    if name is not None:
        manifest = json.loads(fs.cat_file(f"{root}/{name}/manifest.json"))
    else:
        remove_unpublished(fs, root)
        name = f"v{(version_numbers(fs, root) or [0])[-1] + 1:06d}"
        manifest = _assemble(fs, staged, root, name)
        killpoints.reached("version-renamed")
    pointer = f"{root}/{LATEST}.{plan.run_id}.tmp"
    fs.pipe_file(pointer, (name + "\n").encode())
    fs.mv(pointer, f"{root}/{LATEST}")
    staging_area.discard(staged.staging_path, options)  # gone on an object store
    path = f"{root}/{name}" if "://" not in plan.sink_path else fs.unstrip_protocol(
        f"{root}/{name}")
    return PublishedVersion(name, path, manifest)


def _assemble(fs, staged, root: str, name: str) -> dict:
    """Build the version folder in staging (shards, validation results, manifest last) and
    rename it to ``name``; return its manifest."""
    plan = staged.plan
    _, staging = staging_area.sink_fs(staged.staging_path, plan.spec.sink.storage_options)
    folder = f"{staging}/version"
    shards = _place_shards(fs, staged, folder)
    staging_area.move_folder(fs, f"{staging}/validation", f"{folder}/validation")
    quarantine = None
    if staged.quarantine:
        quarantine = f"{staging_area.QUARANTINE}/{plan.run_id}"
        staging_area.move_folder(fs, f"{staging}/quarantine", f"{root}/{quarantine}")
    manifest = build_manifest(staged, name,
                              shards, f"../{quarantine}" if quarantine else None)
    staging_area.write_json(fs, f"{folder}/manifest.json", manifest)
    killpoints.reached("manifest-written")
    staging_area.move_folder(fs, folder, f"{root}/{name}")
    return manifest


def _place_shards(fs, staged, folder: str) -> list[dict]:
    """Give staged shards their final names: ``part-00000.parquet``, or with a split
    ``split=<name>/part-00000.parquet`` (hive style, so Parquet readers see a ``split``
    column and no split name can collide with ``validation/``), in a stable order (split,
    then partition, then piece), numbered per split."""
    placed, counters = [], {}
    fs.makedirs(folder, exist_ok=True)
    for shard in sorted(staged.shards, key=lambda s: (s["split"] or "", s["path"])):
        split = shard["split"] or ""
        index = counters.get(split, 0)
        counters[split] = index + 1
        subfolder = f"split={split}/" if split else ""
        fs.makedirs(f"{folder}/{subfolder}", exist_ok=True)
        relative = f"{subfolder}part-{index:05d}.parquet"
        if fs.exists(shard["path"]) or not fs.exists(f"{folder}/{relative}"):
            fs.mv(shard["path"], f"{folder}/{relative}")  # else: placed by an earlier try
        placed.append({**shard, "path": relative})
    if not placed:  # an empty dataset still tells readers its schema
        empty = write_table(staged.schema.empty_table(), f"{folder}/part-00000.parquet",
                            staged.plan.spec.sink)
        placed.append({**empty, "path": "part-00000.parquet", "split": None})
    return placed


__all__ = ["PublishedVersion", "publish_run"]
