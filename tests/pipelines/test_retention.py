"""Vacuum: the versions kept stay fully readable (time travel gives the rows they had), the
files only older versions read go, orphans of crashed runs go once older than the latest
commit, and nothing under an underscore folder is ever touched."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from assay.pipelines import retention
from assay.pipelines.table_access import live_files
from assay.pipelines.table_versions import list_versions
from tests.care_kit import backdate, commit_run, rows_at

MODES = ["overwrite", "append", "append", "overwrite", "append", "overwrite", "append"]


def build(root: Path, modes: list[str]) -> None:
    """One run per mode, with a split, each adding rows of its own."""
    for number, mode in enumerate(modes):
        rows = pa.table({"id": [number * 10, number * 10 + 1], "run": [number, number]})
        commit_run(root, {"train": rows, "test": rows.slice(0, 1)}, mode=mode,
                   run_id=f"r{number}")


def files(root: Path, under: str = "") -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted((root / under).rglob("*")) if p.is_file()}


def read_by(root: Path, versions: list[int]) -> set[str]:
    read: set[str] = set()
    for version in versions:
        read |= live_files(DeltaTable(str(root), version=version)).keys()
    return read


@pytest.fixture
def table(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    build(root, MODES)
    (root / "_quarantine" / "run_id=r1").mkdir(parents=True)
    (root / "_quarantine" / "run_id=r1" / "part-0.parquet").write_bytes(b"rows")
    (root / "_assay" / "staging" / "r9").mkdir(parents=True)
    (root / "_assay" / "staging" / "r9" / "part-r9-00000.parquet").write_bytes(b"in flight")
    for path in root.rglob("_*/**/*"):
        if path.is_file():
            backdate(path, 3600)
    return root


@pytest.mark.parametrize("keep", [1, 2, 3, 7, 20])
def test_keep_n_leaves_those_versions_readable_and_removes_the_rest(table: Path,
                                                                    keep: int) -> None:
    latest = len(MODES) - 1
    kept = list(range(max(0, latest - keep + 1), latest + 1))
    before = {v: rows_at(table, v) for v in kept}
    underscore = {**files(table, "_assay"), **files(table, "_quarantine")}
    data_before = {p for p in files(table) if not p.startswith("_")}

    plan = retention.vacuum(str(table), keep=keep)

    assert list(plan.kept) == kept and list(plan.released) == list(range(kept[0]))
    assert {v: rows_at(table, v) for v in kept} == before  # time travel: the same rows
    needed = read_by(table, kept)
    remaining = {p for p in files(table) if not p.startswith("_")}
    assert needed <= remaining
    # the rest of the data files went, every one of them listed in the plan
    gone = data_before - remaining
    assert gone == set(plan.removed) and not gone & needed
    assert remaining == needed  # nothing left that no kept version reads
    readable = {v.version for v in list_versions(str(table)) if v.readable}
    assert set(kept) <= readable
    assert {**files(table, "_assay"), **files(table, "_quarantine")} == underscore


def test_random_histories_keep_what_kept_versions_read(tmp_path: Path) -> None:
    for seed in range(4):
        rng = random.Random(seed)
        root = tmp_path / f"t{seed}"
        modes = ["overwrite"] + [rng.choice(["append", "overwrite"]) for _ in range(5)]
        build(root, modes)
        keep = rng.randint(1, 6)
        kept = list(range(max(0, 6 - keep), 6))
        before = {v: rows_at(root, v) for v in kept}
        retention.vacuum(str(root), keep=keep)
        assert {v: rows_at(root, v) for v in kept} == before, (seed, modes, keep)
        assert read_by(root, kept) == {p for p in files(root) if not p.startswith("_")}


def test_a_dry_run_lists_the_same_plan_and_removes_nothing(table: Path) -> None:
    before = files(table)
    plan = retention.vacuum(str(table), keep=2, dry_run=True)
    assert files(table) == before and plan.removed and plan.dry_run
    assert retention.vacuum(str(table), keep=2).removed == plan.removed


def test_older_than_keeps_the_versions_committed_within_the_age(table: Path) -> None:
    history = sorted(DeltaTable(str(table)).history(), key=lambda e: e["version"])
    fourth = datetime.fromtimestamp(history[4]["timestamp"] / 1000, UTC)
    # half a millisecond before version 4 was committed, seen from an hour later
    now = fourth - timedelta(microseconds=500) + timedelta(hours=1)
    plan = retention.vacuum(str(table), older_than=timedelta(hours=1), now=now,
                            dry_run=True)
    assert plan.kept[0] in (3, 4) and plan.kept[-1] == 6  # commits a millisecond apart
    far = retention.vacuum(str(table), older_than=timedelta(days=1),
                           now=datetime.now(UTC) + timedelta(days=30), dry_run=True)
    assert far.kept == (6,)  # none young enough: the latest all the same
    assert retention.vacuum(str(table), older_than=timedelta(days=1),
                            dry_run=True).kept == tuple(range(7))


def test_orphans_go_once_older_than_the_latest_commit(table: Path) -> None:
    crashed = table / "split=train" / "part-crashed-00000.parquet"
    crashed.write_bytes(b"a shard no commit names")
    backdate(crashed, 3600)
    in_flight = table / "split=train" / "part-inflight-00000.parquet"
    in_flight.write_bytes(b"a shard about to be committed")
    plan = retention.vacuum(str(table), keep=20)
    assert plan.orphans == ("split=train/part-crashed-00000.parquet",)
    assert plan.removed == ()
    assert not crashed.exists() and in_flight.exists()


def test_a_plan_touching_a_kept_file_or_an_underscore_folder_removes_nothing(
        table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """delta-rs's own rules spare both; the check says it did, before anything goes."""
    read = sorted(live_files(DeltaTable(str(table))))
    for planned, message in [(read[0], "which version 6 reads"),
                             ("_assay/staging/r9/part-r9-00000.parquet", "nothing removed")]:
        monkeypatch.setattr(DeltaTable, "vacuum", lambda self, *a, p=planned, **k: [p])
        before = files(table)
        with pytest.raises(RuntimeError, match=message):
            retention.vacuum(str(table), keep=1)
        assert files(table) == before


def test_one_of_keep_and_older_than(table: Path) -> None:
    for kwargs in ({}, {"keep": 1, "older_than": timedelta(days=1)}):
        with pytest.raises(ValueError, match="one of keep and older_than"):
            retention.vacuum(str(table), **kwargs)
