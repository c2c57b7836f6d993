"""Converting a dataset of the first release's layout into the Delta table, in place.

The old layout: ``LATEST`` names the newest of the ``vNNNNNN/`` folders, each a complete
snapshot with its ``manifest.json``, shards ``part-00000.parquet`` (``split=<name>/...``
with a split) and gate results ``validation/<gate>.json|html``; rejected rows lie in
``_quarantine/<run-id>/*.parquet``, and a run a gate aborted left
``_quarantine/<run-id>/ABORTED.json`` beside its ``quarantine/`` and ``validation/``.

Each old version becomes one Delta commit, oldest first, overwriting the one before it (each
was a full snapshot), with the contract's commit metadata (and ``assay.converted_from``:
the folder's name) and a transaction per upload it ingested. Its shards move to
``[split=<name>/]part-<run_id>-<nnnnn>.parquet`` (same bytes: the manifest's sha256 still
holds), its manifest to ``_assay/runs/<run_id>/manifest.json`` with paths relative to the
table root, its gate results to ``.../gates/``. Rejected rows move into the ``_quarantine``
Delta table (partitioned by ``run_id``), one commit per run; an aborted run's
``ABORTED.json`` and gate results go to its ``_assay/runs/<run_id>/``.

Every step is either done or finds its work done, so a conversion that stopped resumes when
run again: files are moved, never copied; a version whose run id is in the log is not
committed again, nor a quarantine whose ``assay-run-<run_id>`` transaction is in the
quarantine table; a version's folder goes once all of it moved. ``LATEST`` goes last, so
until then the path reads as the old layout, which no reader or run takes for a table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, Transaction
from deltalake.transaction import AddAction, create_table_with_add_actions

from assay.pipelines.data_dir import default_data_dir
from assay.pipelines.errors import DatasetError, storage_errors, storage_failure
from assay.pipelines.lock import dataset_lock
from assay.pipelines.old_layout import (
    LATEST,
    is_legacy,
    read_latest,
    remove_unpublished,
    version_numbers,
)
from assay.pipelines.staging import ABORTED, move_folder, write_json
from assay.pipelines.table import (
    MANIFEST,
    MODE,
    PIPELINE,
    QUARANTINE,
    ROWS_ADDED,
    RUN_ID,
    RUNS,
    UPLOADS,
    table_uri,
    version_of_run,
)
from assay.pipelines.table_access import CONVERTED_FROM, dataset_fs

SPLIT = "split"
QUARANTINE_PARTITION = "run_id"
OLD_STAGING = "_staging"  # the old runs' staging folders (the table keeps _assay/staging/)


@dataclass(frozen=True)
class Conversion:
    versions: tuple[tuple[str, int], ...]  # (old folder, Delta version), oldest first
    aborted: tuple[str, ...]  # runs a gate aborted, moved under _assay/runs/
    left: tuple[str, ...]  # quarantine folders of no run found, left where they were


def convert(path: str, data_dir: Path | None = None) -> Conversion:
    """Convert the old layout at ``path`` in place, or finish a conversion that stopped;
    nothing to do on a Delta table. Holds the dataset's lock, so no run writes meanwhile."""
    with dataset_lock(path, data_dir or default_data_dir()), _storage(path):
        fs, root = dataset_fs(path)
        if not is_legacy(fs, root):
            if fs.isdir(root) and DeltaTable.is_deltatable(table_uri(path)):
                return Conversion((), (), ())
            raise DatasetError(f"{path}: not a dataset (no LATEST, no _delta_log/)")
        _refuse_a_published_table(path)
        remove_unpublished(fs, root)  # a crashed publish's folder: the old engine's rule
        latest = int(str(read_latest(fs, root)).removeprefix("v"))
        converted = [_convert_version(fs, root, path, f"v{number:06d}")
                     for number in version_numbers(fs, root) if number <= latest]
        versions = tuple(done for done in converted if done is not None)
        aborted, left = _convert_aborted(fs, root, path)
        for leftover in (OLD_STAGING, LATEST):  # LATEST last
            if fs.exists(f"{root}/{leftover}"):
                fs.rm(f"{root}/{leftover}", recursive=True)
    return Conversion(versions, aborted, left)


@contextmanager
def _storage(path: str) -> Iterator[None]:
    try:
        yield
    except storage_errors() as exc:
        raise storage_failure(path, "convert", exc) from exc


def _refuse_a_published_table(path: str) -> None:
    """Old version folders beside a table that runs have published to: the old versions
    would land on top of the new ones, so say so instead."""
    table = _open(table_uri(path))
    if table is not None and any(CONVERTED_FROM not in e for e in table.history()):
        raise DatasetError(f"{path}: both old version folders and a Delta table that runs "
                           "have published to; convert the old folders on their own (a copy "
                           "without _delta_log/) or remove them")


def _convert_version(fs: fsspec.AbstractFileSystem, root: str, path: str, name: str
                     ) -> tuple[str, int] | None:
    """Convert one old version; None for the rest of a folder whose removal stopped."""
    folder = f"{root}/{name}"
    if not fs.exists(f"{folder}/manifest.json"):  # every published folder had one
        fs.rm(folder, recursive=True)
        return None
    old = json.loads(fs.cat_file(f"{folder}/manifest.json"))
    run_id = old["run_id"]
    table = _open(table_uri(path))
    version = version_of_run(table, run_id)  # a conversion that stopped made it already
    if version is None:
        version = 0 if table is None else table.version() + 1
        run_folder = f"{root}/{RUNS}/{run_id}"
        fs.makedirs(run_folder, exist_ok=True)
        shards = [_move_shard(fs, root, folder, run_id, shard) for shard in old["shards"]]
        move_folder(fs, f"{folder}/validation", f"{run_folder}/gates")
        manifest = _manifest(old, name, version, shards)
        write_json(fs, f"{run_folder}/manifest.json", manifest)
        _commit_version(fs, root, path, table, manifest)
    _move_quarantine(fs, root, path, run_id, f"{root}/{QUARANTINE}/{run_id}")
    fs.rm(folder, recursive=True)
    return name, version


def _open(uri: str) -> DeltaTable | None:
    return DeltaTable(uri) if DeltaTable.is_deltatable(uri) else None


def _move_shard(fs: fsspec.AbstractFileSystem, root: str, folder: str, run_id: str,
                shard: dict[str, Any]) -> dict[str, Any]:
    """``[split=x/]part-00001.parquet`` to ``[split=x/]part-<run_id>-00001.parquet``."""
    subfolder, _, file = shard["path"].rpartition("/")
    number = file.removeprefix("part-").removesuffix(".parquet")
    relative = f"{subfolder}/" * bool(subfolder) + f"part-{run_id}-{number}.parquet"
    _move_file(fs, f"{folder}/{shard['path']}", f"{root}/{relative}")
    return {**shard, "path": relative}


def _move_file(fs: fsspec.AbstractFileSystem, source: str, target: str) -> None:
    """Move a file unless an earlier try did; one that is in neither place is lost."""
    if fs.exists(source):
        fs.makedirs(target.rpartition("/")[0], exist_ok=True)
        fs.mv(source, target)
    elif not fs.exists(target):
        raise DatasetError(f"{source}: missing (not moved to {target} either)")


def _manifest(old: dict[str, Any], name: str, version: int, shards: list[dict]) -> dict:
    """The old manifest in the contract's terms; every old field is kept."""
    run = f"{RUNS}/{old['run_id']}"
    return {
        **old,
        "version": version,
        "mode": "overwrite",
        "rows_added": old["rows"],
        "shards": shards,
        "gates": [{**g, "result_path": f"{run}/gates/{g['name']}.json"}
                  for g in old.get("gates", [])],
        "quarantine": {"rows": (old.get("quarantine") or {}).get("rows", 0),
                       "table": QUARANTINE},
        "converted_from": name,
    }


def _commit_version(fs: fsspec.AbstractFileSystem, root: str, path: str,
                    table: DeltaTable | None, manifest: dict[str, Any]) -> None:
    """One commit overwriting the table with the version's shards."""
    shards = manifest["shards"]
    split = any(shard.get("split") for shard in shards)
    schema = _schema(fs, f"{root}/{shards[0]['path']}")
    if split:
        schema = schema.append(pa.field(SPLIT, pa.string()))
    actions = [_add(s["path"], s["bytes"], s["rows"], {SPLIT: s["split"]} if split else {})
               for s in shards]
    uploads = {i["sha256"]: i["path"] for i in manifest.get("inputs", [])}
    run_id = manifest["run_id"]
    properties = CommitProperties(
        custom_metadata={
            RUN_ID: run_id, PIPELINE: manifest["pipeline"], MODE: "overwrite",
            ROWS_ADDED: str(manifest["rows"]), MANIFEST: f"{RUNS}/{run_id}/manifest.json",
            UPLOADS: json.dumps([{"path": p, "sha256": s} for s, p in uploads.items()]),
            CONVERTED_FROM: manifest["converted_from"]},
        app_transactions=[Transaction(f"assay-upload-{sha256}", manifest["version"])
                          for sha256 in uploads])
    _commit(table_uri(path), table, actions, schema, [SPLIT] if split else [], "overwrite",
            properties)


def _move_quarantine(fs: fsspec.AbstractFileSystem, root: str, path: str, run_id: str,
                     source: str) -> None:
    """The Parquet pieces in ``source`` into the quarantine table, as run ``run_id``'s."""
    uri = f"{table_uri(path)}/{QUARANTINE}"
    table = _open(uri)
    app_id = f"assay-run-{run_id}"
    if table is None or table.transaction_version(app_id) is None:
        target = f"{root}/{QUARANTINE}/{QUARANTINE_PARTITION}={run_id}"
        for piece in fs.glob(f"{source}/*.parquet"):
            _move_file(fs, piece, f"{target}/{piece.rpartition('/')[2]}")
        pieces = sorted(fs.glob(f"{target}/*.parquet"))
        if pieces:
            version = 0 if table is None else table.version() + 1
            relative = [p.removeprefix(f"{root}/{QUARANTINE}/") for p in pieces]
            actions = [_add(r, fs.size(p), _rows(fs, p), {QUARANTINE_PARTITION: run_id})
                       for r, p in zip(relative, pieces, strict=True)]
            schema = _schema(fs, pieces[0]).append(pa.field(QUARANTINE_PARTITION, pa.string()))
            _commit(uri, table, actions, schema, [QUARANTINE_PARTITION], "append",
                    CommitProperties(custom_metadata={RUN_ID: run_id},
                                     app_transactions=[Transaction(app_id, version)]))
    if fs.exists(source):
        fs.rm(source, recursive=True)


def _convert_aborted(fs: fsspec.AbstractFileSystem, root: str, path: str
                     ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What is left in ``_quarantine/`` once every version moved: the folders of runs a gate
    aborted (their rows into the table, the rest under ``_assay/runs/<run_id>/``), empty
    folders an interrupted move left (removed), and anything else (left, and named)."""
    aborted, left = [], []
    folder = f"{root}/{QUARANTINE}"
    if not fs.isdir(folder):
        return (), ()
    for entry in sorted(fs.ls(folder, detail=False)):
        run_id = entry.rstrip("/").rpartition("/")[2]
        if run_id.startswith("_") or "=" in run_id:  # the table's log and partitions
            continue
        if fs.exists(f"{entry}/{ABORTED}"):  # ABORTED.json, which says so, moves last
            run_folder = f"{root}/{RUNS}/{run_id}"
            fs.makedirs(run_folder, exist_ok=True)
            _move_quarantine(fs, root, path, run_id, f"{entry}/quarantine")
            move_folder(fs, f"{entry}/validation", f"{run_folder}/gates")
            _move_file(fs, f"{entry}/{ABORTED}", f"{run_folder}/{ABORTED}")
            aborted.append(run_id)
            fs.rm(entry, recursive=True)
        elif fs.find(entry):
            left.append(entry)
        else:
            fs.rm(entry, recursive=True)
    return tuple(aborted), tuple(left)


def _add(relative: str, size: int, rows: int, partition: dict[str, str]) -> AddAction:
    return AddAction(relative, size, partition, int(time.time() * 1000), True,
                     json.dumps({"numRecords": rows}))


def _commit(uri: str, table: DeltaTable | None, actions: list[AddAction], schema: pa.Schema,
            partition_by: list[str], mode: str, properties: CommitProperties) -> None:
    """The table's first commit creates it."""
    if table is None:
        create_table_with_add_actions(uri, Schema.from_arrow(schema), actions, mode="error",
                                      partition_by=partition_by or None,
                                      commit_properties=properties)
    else:
        table.create_write_transaction(actions, mode, schema,
                                       partition_by=partition_by or None,
                                       commit_properties=properties)


def _schema(fs: fsspec.AbstractFileSystem, piece: str) -> pa.Schema:
    with fs.open(piece, "rb") as handle:
        return pq.read_schema(handle).remove_metadata()


def _rows(fs: fsspec.AbstractFileSystem, piece: str) -> int:
    with fs.open(piece, "rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows
