"""The staging area of a run: ``<sink>/_staging/<run-id>/``, never read by anyone.

Leftovers of crashed runs are removed when the next run starts. A run a gate aborted keeps
its quarantine and gate results (moved to ``_quarantine/<run-id>/``) so the abort can be
explained, and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from assay.pipelines.plan import RunPlan
from assay.pipelines.versions import latest_run_id
from assay.validation.report import render_html

STAGING = "_staging"
QUARANTINE = "_quarantine"
ABORTED = "ABORTED.json"


def sink_fs(sink_path: str, storage_options: dict[str, Any]) -> tuple[fsspec.AbstractFileSystem,
                                                                      str]:
    fs, root = url_to_fs(sink_path, **storage_options)
    return fs, root.rstrip("/")


def prepare(plan: RunPlan) -> str:
    """Clean what earlier runs left and create this run's staging folder.

    Runs of a dataset hold its lock, so any staging folder here belongs to a run that died.
    One that died while publishing may also have moved its quarantine to
    ``_quarantine/<run-id>/``: that goes too, unless its version became ``LATEST`` (it
    died after the switch) or a gate abort kept it on purpose (``ABORTED.json``)."""
    fs, root = sink_fs(plan.sink_path, plan.spec.sink.storage_options)
    area = f"{root}/{STAGING}"
    if fs.exists(area):
        published = latest_run_id(fs, root)
        for leftover in fs.ls(area, detail=False):
            run_id = leftover.rstrip("/").rsplit("/", 1)[-1]
            quarantine = f"{root}/{QUARANTINE}/{run_id}"
            if run_id != published and fs.exists(quarantine) \
                    and not fs.exists(f"{quarantine}/{ABORTED}"):
                fs.rm(quarantine, recursive=True)
            fs.rm(leftover, recursive=True)
    path = f"{area}/{plan.run_id}"
    fs.makedirs(path, exist_ok=True)
    return path if "://" not in plan.sink_path else fs.unstrip_protocol(path)


def move_folder(fs: fsspec.AbstractFileSystem, source: str, target: str) -> None:
    """Move a folder: one rename on a local disk (atomic: readers see all of it or none);
    on an object store, which has keys under a prefix rather than folders, each file is
    copied then removed (fsspec's recursive ``mv`` there also tries to copy the folder's
    own, nonexistent key and fails). What is left of ``source`` is moved, so a move that
    failed half way is finished by calling it again; nothing left is nothing to do."""
    if not fs.exists(source):
        return
    if isinstance(fs, LocalFileSystem):
        fs.mv(source, target, recursive=True)
        return
    files = fs.find(source)
    fs.mv(files, [target + path[len(source):] for path in files])


def discard(staging: str, storage_options: dict[str, Any]) -> None:
    fs, root = sink_fs(staging, storage_options)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def write_json(fs: fsspec.AbstractFileSystem, path: str, payload: Any) -> None:
    with fs.open(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def write_gate_results(staging: str, results: dict[str, Any], storage_options: dict[str, Any]
                       ) -> None:
    """Each gate's GE-shaped suite validation result as ``validation/<gate>.json``, and its
    report for people as ``validation/<gate>.html`` (GE imported only to render it)."""
    fs, root = sink_fs(staging, storage_options)
    if results:
        fs.makedirs(f"{root}/validation", exist_ok=True)
    for name, result in results.items():
        write_json(fs, f"{root}/validation/{name}.json", result.ge_result)
        with fs.open(f"{root}/validation/{name}.html", "w", encoding="utf-8") as handle:
            handle.write(render_html(result.ge_result))


def abandon(staged: Any, message: str) -> None:
    """A gate aborted the run: keep quarantine and gate results for diagnosis, drop shards."""
    plan = staged.plan
    options = plan.spec.sink.storage_options
    fs, staging = sink_fs(staged.staging_path, options)
    _, sink = sink_fs(plan.sink_path, options)
    target = f"{sink}/{QUARANTINE}/{plan.run_id}"
    fs.makedirs(target, exist_ok=True)
    for folder in ("quarantine", "validation"):
        if fs.exists(f"{staging}/{folder}"):
            move_folder(fs, f"{staging}/{folder}", f"{target}/{folder}")
    write_json(fs, f"{target}/{ABORTED}", {"run_id": plan.run_id, "reason": message,
                                              "accounting": staged.accounting.as_dict()})
    discard(staged.staging_path, options)  # on an object store, nothing may be left
