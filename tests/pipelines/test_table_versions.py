"""Listing a dataset's versions from the Delta log and the runs' manifests; the one-line
errors for a path that is no table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from assay.pipelines.errors import DatasetError
from assay.pipelines.summary import GateOutcome
from assay.pipelines.table_access import open_table
from assay.pipelines.table_versions import list_versions
from tests.care_kit import commit_run, gate

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_layout"


def ids(*values: int) -> pa.Table:
    return pa.table({"id": pa.array(values, pa.int64())})


@pytest.fixture
def table(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    commit_run(root, {None: ids(1, 2, 3)}, mode="overwrite", run_id="r0",
               gates=[gate()], uploads=["in/a.csv"])
    commit_run(root, {None: ids(4)}, run_id="r1",
               gates=[gate(success=False, quarantined=2)], uploads=["in/b.csv", "in/c.csv"])
    commit_run(root, {None: ids(5, 6)}, mode="overwrite", run_id="r2",
               gates=[gate(policy="warn", success=False)])
    return root


def test_each_version_says_how_it_came(table: Path) -> None:
    versions = list_versions(str(table))
    assert [v.version for v in versions] == [0, 1, 2]
    assert [v.run_id for v in versions] == ["r0", "r1", "r2"]
    assert [v.mode for v in versions] == ["overwrite", "append", "overwrite"]
    assert versions[1].uploads == ("in/b.csv", "in/c.csv")
    assert [(v.rows_added, v.rows) for v in versions] == [(3, 3), (1, 4), (2, 2)]
    assert all(v.readable for v in versions)
    assert versions[0].committed_at <= versions[1].committed_at <= versions[2].committed_at


def test_a_quarantine_gate_that_did_its_job_is_not_a_failure(table: Path) -> None:
    labels = [[g.label() for g in v.gates] for v in list_versions(str(table))]
    assert labels == [["passed"], ["quarantined 2 rows"], ["warned"]]


def test_gate_labels() -> None:
    assert GateOutcome("g", True, "abort").label() == "passed"
    assert GateOutcome("g", False, "quarantine", 1234).label() == "quarantined 1,234 rows"
    assert GateOutcome("g", False, "warn").label() == "warned"
    assert GateOutcome("g", False, "abort", aborted="gate 'g' failed").label() == "aborted"
    assert GateOutcome("g", False, "quarantine", 9, aborted="above 10%").label() == "aborted"


def test_a_version_whose_files_are_gone_is_not_readable(table: Path) -> None:
    for shard in table.glob("part-r0-*.parquet"):
        shard.unlink()
    readable = [v.readable for v in list_versions(str(table))]
    assert readable == [False, False, True]


def test_a_commit_without_assay_metadata_names_its_operation(table: Path) -> None:
    open_table(str(table)).delete("id = 5")
    last = list_versions(str(table))[-1]
    assert (last.run_id, last.operation, last.gates) == (None, "DELETE", ())
    assert (last.rows_added, last.rows) == (1, 1)  # the file rewritten without the row


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: None, "no such directory"),
    (lambda root: root.mkdir(), "not a Delta table (no _delta_log/)"),
    (lambda root: shutil.copytree(LEGACY / "flat", root),
     "the old layout (version folders and LATEST); run `assay convert {root}` first"),
])
def test_a_path_that_is_no_table_is_one_line_naming_it(tmp_path: Path, make, message) -> None:
    root = tmp_path / "dataset"
    make(root)
    with pytest.raises(DatasetError) as raised:
        list_versions(str(root))
    assert str(raised.value) == f"{root}: {message.format(root=root)}"


def test_an_unknown_version_names_the_latest(table: Path) -> None:
    with pytest.raises(DatasetError, match=r": no version 7 \(the latest is version 2\)$"):
        open_table(str(table), version=7)
    assert open_table(str(table), version=1).version() == 1


def test_a_version_gone_from_the_log_names_the_oldest(table: Path) -> None:
    open_table(str(table)).create_checkpoint()
    for commit in ("00000000000000000000.json", "00000000000000000001.json"):
        (table / "_delta_log" / commit).unlink()
    with pytest.raises(DatasetError, match="version 0 is no longer in the log "
                                           r"\(the oldest is version 2, the latest version 2\)"):
        open_table(str(table), version=0)
    assert [v.version for v in list_versions(str(table))] == [2]
