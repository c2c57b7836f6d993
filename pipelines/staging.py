"""A run's files before and around its commit: staging, gate results, the quarantine table.

A run stages under ``<sink>/_assay/staging/<run-id>/`` (no reader looks under ``_assay``),
with an ``OWNER`` file naming its process. A staging folder whose process is gone (or is
this one, which holds the dataset lock now) belongs to a run that died; ``prepare``
finishes it when its commit landed (only the quarantine commit can be missing) and
otherwise removes every file it left: its shards in the table folder and its part of the
dedup index (both named after its run id), its quarantine files and its run folder. A live
process's folder is left alone: two processes that do not share a data directory (so not
the lock) can append to one table at once, and delta-rs lands both commits. A run a gate
aborted
commits its quarantined rows and keeps its gate results and ``ABORTED.json`` under
``_assay/runs/<run-id>/``, so the abort can be explained, and nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from assay.pipelines import dedup_index
from assay.pipelines import table as delta
from assay.pipelines.accounting import Accounting
from assay.pipelines.owners import owner_gone, this_process
from assay.pipelines.plan import RunPlan
from assay.pipelines.summary import GateOutcome
from assay.validation.report import Verdict, render_html

ABORTED = "ABORTED.json"
OWNER = "OWNER"
RUN_PARTITION = "run_id"


def sink_fs(sink_path: str, storage_options: dict[str, Any]) -> tuple[fsspec.AbstractFileSystem,
                                                                      str]:
    fs, root = url_to_fs(sink_path, **storage_options)
    return fs, root.rstrip("/")


def prepare(plan: RunPlan) -> str:
    """Finish or clean what earlier runs left and create this run's staging folder."""
    options = plan.spec.sink.storage_options
    fs, root = sink_fs(plan.sink_path, options)
    area = f"{root}/{delta.STAGING}"
    leftovers = fs.ls(area, detail=False) if fs.exists(area) else []
    dead = [folder for folder in leftovers if _abandoned(fs, folder)]
    if dead:
        table = delta.open_table(plan.sink_path, options)
        for leftover in dead:
            run_id = leftover.rstrip("/").rsplit("/", 1)[-1]
            if delta.committed_in(table, delta.run_app_id(run_id)) is not None:
                commit_quarantine(fs, plan.sink_path, options, run_id)
            else:
                _remove_uncommitted(fs, plan.sink_path, options, run_id)
            fs.rm(leftover, recursive=True)
    path = f"{area}/{plan.run_id}"
    fs.makedirs(path, exist_ok=True)
    fs.pipe_file(f"{path}/{OWNER}", f"{this_process()}\n{datetime.now(UTC).isoformat()}\n"
                 .encode())
    return path if "://" not in plan.sink_path else fs.unstrip_protocol(path)


def _abandoned(fs: fsspec.AbstractFileSystem, folder: str) -> bool:
    """Whether a staging folder's run is over: its process gone, or this very process
    (which holds the dataset's lock, so none of its runs is still writing here)."""
    try:
        owner, since = fs.cat_file(f"{folder}/{OWNER}").decode().split()
    except FileNotFoundError:
        return True  # its run died before it could say whose it is
    return owner == this_process() or owner_gone(owner, since)


def _remove_uncommitted(fs: fsspec.AbstractFileSystem, sink_path: str,
                        options: dict[str, Any], run_id: str) -> None:
    """Every file of a run that died before its commit (shards, its part of the dedup
    index, quarantine files, run folder); an abort's record stays."""
    _, root = sink_fs(sink_path, options)
    files = fs.glob(f"{root}/part-{run_id}-*.parquet") + \
        fs.glob(f"{root}/{delta.SPLIT_COLUMN}=*/part-{run_id}-*.parquet") + \
        dedup_index.run_files(fs, root, run_id)
    if files:
        fs.rm(files)
    quarantine = delta.open_table(f"{sink_path}/{delta.QUARANTINE}", options)
    folder = _quarantine_folder(root, run_id)
    if delta.committed_in(quarantine, delta.run_app_id(run_id)) is None and fs.exists(folder):
        fs.rm(folder, recursive=True)
    run_folder = f"{root}/{delta.RUNS}/{run_id}"
    if fs.exists(run_folder) and not fs.exists(f"{run_folder}/{ABORTED}"):
        fs.rm(run_folder, recursive=True)


def _quarantine_folder(root: str, run_id: str) -> str:
    return f"{root}/{delta.QUARANTINE}/{RUN_PARTITION}={run_id}"


def place_quarantine(fs: fsspec.AbstractFileSystem, staged: Any, root: str) -> None:
    """The run's quarantine pieces into the quarantine table's folder (not yet committed)."""
    _, staging = sink_fs(staged.staging_path, staged.plan.spec.sink.storage_options)
    move_folder(fs, f"{staging}/quarantine", _quarantine_folder(root, staged.plan.run_id))


def commit_quarantine(fs: fsspec.AbstractFileSystem, sink_path: str, options: dict[str, Any],
                      run_id: str) -> None:
    """Commit the run's placed quarantine files to the ``_quarantine`` table, once: the
    commit records the run id, so a second call (a retry, a later run finishing a crashed
    one) finds it there and adds nothing."""
    _, root = sink_fs(sink_path, options)
    folder = _quarantine_folder(root, run_id)
    table_path = f"{sink_path.rstrip('/')}/{delta.QUARANTINE}"
    app_id = delta.run_app_id(run_id)
    if not fs.exists(folder):
        return
    table = delta.open_table(table_path, options)
    if delta.committed_in(table, app_id) is not None:
        return
    files = sorted(fs.find(folder))
    actions, schema = [], None
    for path in files:
        with fs.open(path, "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
        schema = schema or meta.schema.to_arrow_schema()
        relative = path[len(f"{root}/{delta.QUARANTINE}/"):]
        actions.append(delta.add_action(relative, fs.size(path), meta.num_rows,
                                        {RUN_PARTITION: run_id}))
    if not actions:
        return
    delta.commit(table_path, options, table, actions,
                 schema.append(pa.field(RUN_PARTITION, pa.string())), [RUN_PARTITION],
                 "append", {delta.RUN_ID: run_id}, [app_id])


def move_folder(fs: fsspec.AbstractFileSystem, source: str, target: str) -> None:
    """Move a folder: one rename on a local disk (atomic: readers see all of it or none),
    file by file into a folder that exists (the dedup index, shared by runs);
    on an object store, which has keys under a prefix rather than folders, each file is
    copied then removed (fsspec's recursive ``mv`` there also tries to copy the folder's
    own, nonexistent key and fails). What is left of ``source`` is moved, so a move that
    failed half way is finished by calling it again; nothing left is nothing to do."""
    if not fs.exists(source):
        return
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if fs.exists(target):  # an earlier try moved part of it, or a shared folder
            for path in fs.find(source):
                fs.makedirs((target + path[len(source):]).rsplit("/", 1)[0], exist_ok=True)
                fs.mv(path, target + path[len(source):])
            fs.rm(source, recursive=True)
            return
        fs.mv(source, target, recursive=True)
        return
    files = fs.find(source)
    fs.mv(files, [target + path[len(source):] for path in files])


def discard(staging: str, storage_options: dict[str, Any]) -> None:
    fs, root = sink_fs(staging, storage_options)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def write_json(fs: fsspec.AbstractFileSystem, path: str, payload: Any) -> None:
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def read_json(fs: fsspec.AbstractFileSystem, path: str) -> Any:
    return json.loads(fs.cat_file(path))


def write_gate_results(staging: str, gates: list[dict[str, Any]], accounting: Accounting,
                       storage_options: dict[str, Any]) -> None:
    """Each gate's GE-shaped suite validation result as ``validation/<gate>.json``, and its
    report for people as ``validation/<gate>.html``: the gate's outcome (``gates`` are the
    run's gate entries, ``aborted`` set), its expectations and the run's accounting."""
    fs, root = sink_fs(staging, storage_options)
    if gates:
        fs.makedirs(f"{root}/validation", exist_ok=True)
    for gate in gates:
        name, outcome = gate["name"], GateOutcome.from_entry(gate)
        write_json(fs, f"{root}/validation/{name}.json", gate["result"])
        with fs.open(f"{root}/validation/{name}.html", "w", encoding="utf-8") as handle:
            handle.write(render_html(gate["result"], Verdict(outcome.kind, outcome.label()),
                                     accounting.as_dict()))


def abandon(staged: Any, message: str) -> None:
    """A gate aborted the run: commit its quarantined rows, keep its gate results and the
    abort's record under ``_assay/runs/<run-id>/``, drop its shards."""
    plan = staged.plan
    options = plan.spec.sink.storage_options
    fs, staging = sink_fs(staged.staging_path, options)
    _, sink = sink_fs(plan.sink_path, options)
    run_folder = f"{sink}/{delta.RUNS}/{plan.run_id}"
    move_folder(fs, f"{staging}/validation", f"{run_folder}/gates")
    write_json(fs, f"{run_folder}/{ABORTED}", {
        "run_id": plan.run_id, "reason": message, "accounting": staged.accounting.as_dict(),
        "gates": [{k: v for k, v in gate.items() if k != "result"} for gate in staged.gates]})
    place_quarantine(fs, staged, sink)
    commit_quarantine(fs, plan.sink_path, options, plan.run_id)
    discard(staged.staging_path, options)  # on an object store, nothing may be left
