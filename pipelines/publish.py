"""Publishing a staged run: one Delta commit is the only moment a version appears.

In order: the staged shards get their final names in the table folder, the gate results
and the manifest go to ``_assay/runs/<run-id>/``, then one commit adds the shards (and, in
``overwrite`` mode, removes the previous version's files). A crash before the commit leaves
files no version lists (the next run of the dataset removes them, ``staging.prepare``); a
crash after it leaves a published version. The quarantined rows are committed to the
``_quarantine`` table next, recorded by run id, so finishing it again never adds them twice.
Every step finds its work done on a retry, so a publish that failed part way resumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.pipelines import dedup_index, killpoints
from assay.pipelines import staging as staging_area
from assay.pipelines import table as delta
from assay.pipelines.errors import storage_errors, storage_failure
from assay.pipelines.sink.manifest import build_manifest


@dataclass
class PublishedVersion:
    version: int
    path: str
    manifest: dict


def publish_run(staged) -> PublishedVersion:
    """Commit the staged run as the table's next version. A storage failure is one line
    naming the sink (``StorageError``); whatever it left is the next run's to clean."""
    try:
        return _publish(staged)
    except storage_errors() as exc:
        raise storage_failure(staged.plan.sink_path, "publish", exc) from exc


def _publish(staged) -> PublishedVersion:
    plan = staged.plan
    options = plan.spec.sink.storage_options
    fs, root = staging_area.sink_fs(plan.sink_path, options)
    table = delta.open_table(plan.sink_path, options)
    version = delta.committed_in(table, delta.run_app_id(plan.run_id))
    run_folder = f"{root}/{delta.RUNS}/{plan.run_id}"
    if version is None:  # not committed yet (a retry may find the files placed already)
        shards = _place_shards(fs, staged, root)
        staging_area.move_folder(fs, f"{_staging(staged)}/validation", f"{run_folder}/gates")
        staging_area.place_quarantine(fs, staged, root)
        staging_area.move_folder(fs, f"{_staging(staged)}/index", f"{root}/{dedup_index.INDEX}")
        version = 0 if table is None else table.version() + 1
        previous_rows = 0 if table is None or plan.mode == "overwrite" else delta.rows_in(table)
        manifest = build_manifest(staged, version, shards, previous_rows)
        staging_area.write_json(fs, f"{run_folder}/manifest.json", manifest)
        killpoints.reached("before-commit")
        landed = _commit(staged, table, shards, manifest)
        killpoints.reached("committed")
        if landed != version:  # another process's commit came first (no shared lock)
            version = landed
            manifest |= {"version": landed, "rows": delta.rows_in(
                delta.open_table(plan.sink_path, options, landed))}
            staging_area.write_json(fs, f"{run_folder}/manifest.json", manifest)
    else:
        manifest = staging_area.read_json(fs, f"{run_folder}/manifest.json")
    staging_area.commit_quarantine(fs, plan.sink_path, options, plan.run_id)
    staging_area.discard(staged.staging_path, options)  # gone on an object store
    return PublishedVersion(version, plan.sink_path, manifest)


def _staging(staged) -> str:
    return staging_area.sink_fs(staged.staging_path, staged.plan.spec.sink.storage_options)[1]


def _commit(staged, table, shards: list[dict], manifest: dict) -> int:
    """The data commit after ``table`` (the version read when publishing began): the
    run's shards, its metadata, and what it ingested, recorded as application transactions
    (uploads only when appending: an overwrite's rows do not outlive the next overwrite,
    so it claims no upload for good)."""
    plan = staged.plan
    split = plan.spec.sink.split is not None
    schema = delta.table_schema(staged.schema, split)
    app_ids = [delta.run_app_id(plan.run_id)]
    if plan.mode == "append":
        app_ids += [delta.upload_app_id(upload.sha256) for upload in plan.inputs]
    actions = [delta.add_action(s["path"], s["bytes"], s["rows"], delta.split_values(s["split"]))
               for s in shards]
    return delta.commit(plan.sink_path, plan.spec.sink.storage_options, table, actions,
                        schema, [delta.SPLIT_COLUMN] if split else [], plan.mode,
                        delta.commit_metadata(manifest), app_ids)


def _place_shards(fs, staged, root: str) -> list[dict]:
    """Give staged shards their final names in the table folder,
    ``part-<run-id>-00000.parquet`` or with a split ``split=<name>/part-...`` (hive style,
    the partition column Delta lists them under), in a stable order (split, then partition,
    then piece), numbered per split. The run id in the name keeps a run's files apart from
    every other run's, so a crashed run's leftovers are found by name."""
    placed, counters = [], {}
    for shard in sorted(staged.shards, key=lambda s: (s["split"] or "", s["path"])):
        split = shard["split"] or ""
        index = counters.get(split, 0)
        counters[split] = index + 1
        folder = f"{delta.SPLIT_COLUMN}={split}/" if split else ""
        relative = f"{folder}part-{staged.plan.run_id}-{index:05d}.parquet"
        if fs.exists(shard["path"]) or not fs.exists(f"{root}/{relative}"):
            fs.makedirs(f"{root}/{folder}", exist_ok=True)
            fs.mv(shard["path"], f"{root}/{relative}")  # else: placed by an earlier try
        placed.append({**shard, "path": relative})
    return placed


__all__ = ["PublishedVersion", "publish_run"]
