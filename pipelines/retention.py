"""Vacuum: remove the files of versions no longer kept, and the files crashed runs left.

Kept: the last N versions, or those committed within an age, and always the latest; the
kept versions are a run of the newest ones, and each stays fully readable (time travel), as
no file any of them reads is removed. Older versions' commits stay in the log (``assay
inspect`` lists them as no longer readable where their files went).

delta-rs plans it: ``DeltaTable.vacuum`` as a dry run with no retention period
(``retention_hours=0, enforce_retention_duration=False``: its retention is counted in whole
hours from each remove action's deletion timestamp, not in versions) and ``keep_versions``,
which spares every file those versions read. Its lite mode lists the files the log removed;
its full mode adds the files the log never named (orphans: a crashed run's shards). Of the
orphans only those older than the latest commit go, since a newer one may be a run's in
flight. assay then deletes the files itself instead of letting delta-rs commit VACUUM START
and END: those would be versions no run made, where the table has one version per run.
Underscore folders (``_delta_log``, ``_assay``, ``_quarantine``) are never touched: delta-rs
skips them, and the plan is checked for them and for kept files before anything goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deltalake import DeltaTable

from assay.pipelines.data_dir import default_data_dir
from assay.pipelines.errors import storage_errors, storage_failure
from assay.pipelines.lock import dataset_lock
from assay.pipelines.table_access import dataset_fs, live_files, open_table
from assay.pipelines.table_versions import commit_time


@dataclass(frozen=True)
class VacuumPlan:
    kept: tuple[int, ...]  # the versions kept, oldest first
    released: tuple[int, ...]  # the older versions, no longer kept readable
    removed: tuple[str, ...]  # files the log removed that no kept version reads
    orphans: tuple[str, ...]  # files no version names, older than the latest commit
    dry_run: bool


def vacuum(path: str, *, keep: int | None = None, older_than: timedelta | None = None,
           dry_run: bool = False, now: datetime | None = None,
           data_dir: Path | None = None) -> VacuumPlan:
    """Keep the last ``keep`` versions, or those younger than ``older_than`` (one of the
    two); remove the rest's files unless ``dry_run``. Holds the dataset's lock (the one
    runs take, in ``data_dir``), so no run commits while files go."""
    if (keep is None) == (older_than is None):
        raise ValueError("give one of keep and older_than")
    with dataset_lock(path, data_dir or default_data_dir()):
        table = open_table(path)
        history = sorted(table.history(), key=lambda e: e["version"])
        kept = kept_versions(history, keep, older_than, now or datetime.now(UTC))
        plan = _plan(path, table, history, kept, dry_run)
        if not dry_run:
            _remove(path, plan.removed + plan.orphans)
    return plan


def kept_versions(history: list[dict], keep: int | None, older_than: timedelta | None,
                  now: datetime) -> list[int]:
    """The versions to keep: the last ``keep`` of the log's, or those committed after
    ``now - older_than``; the latest in any case."""
    versions = [entry["version"] for entry in history]
    if keep is not None:
        return versions[-max(keep, 1):]
    assert older_than is not None
    young = [e["version"] for e in history if commit_time(e) > now - older_than]
    return young or versions[-1:]


def _plan(path: str, table: DeltaTable, history: list[dict], kept: list[int],
          dry_run: bool) -> VacuumPlan:
    options = {"retention_hours": 0, "enforce_retention_duration": False, "dry_run": True,
               "keep_versions": kept}
    removed = set(table.vacuum(**options))
    untracked = set(table.vacuum(full=True, **options)) - removed
    fs, root = dataset_fs(path)
    latest = commit_time(history[-1])
    orphans = {p for p in untracked if fs.modified(f"{root}/{p}").astimezone(UTC) < latest}
    _check(path, table, kept, removed | orphans)
    return VacuumPlan(
        kept=tuple(kept),
        released=tuple(e["version"] for e in history if e["version"] < kept[0]),
        removed=tuple(sorted(removed)), orphans=tuple(sorted(orphans)), dry_run=dry_run)


def _check(path: str, table: DeltaTable, kept: list[int], doomed: set[str]) -> None:
    """Refuse a plan that would remove a file a kept version reads, or anything under an
    underscore or dot folder (delta-rs's own rules say it cannot; this says it did not)."""
    for name in doomed:
        if name.startswith(("_", ".")):
            raise RuntimeError(f"{path}: vacuum planned to remove {name}; nothing removed")
    for version in kept:
        table.load_as_version(version)
        if read := doomed & live_files(table).keys():
            raise RuntimeError(f"{path}: vacuum planned to remove {sorted(read)[0]}, which "
                               f"version {version} reads; nothing removed")


def _remove(path: str, files: tuple[str, ...]) -> None:
    fs, root = dataset_fs(path)
    for name in files:
        try:
            fs.rm_file(f"{root}/{name}")
        except FileNotFoundError:  # gone already: a vacuum that stopped part way
            continue
        except storage_errors() as exc:
            raise storage_failure(f"{root}/{name}", "vacuum", exc) from exc
