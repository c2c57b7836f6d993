"""Commits to the dataset's table by writers that do not share the dataset lock: each
lands as one version of its own, the versions its transactions record are the ones it
landed as, and a lost create does not replace the winner's table."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from assay.pipelines import table as delta
from assay.pipelines.errors import SpecError

SCHEMA = pa.schema([("id", pa.int64())])


def _commit(sink: Path, table: DeltaTable | None, name: str, mode: str = "append",
            schema: pa.Schema = SCHEMA) -> int:
    """Commit one (unwritten) file of one row as run ``name``; the log is all we read."""
    action = delta.add_action(f"{name}.parquet", 10, 1, {})
    return delta.commit(str(sink), {}, table, [action], schema, [], mode,
                        {delta.RUN_ID: name}, [delta.run_app_id(name)])


def _operations(sink: Path) -> list[str]:
    return [c["operation"] for c in sorted(DeltaTable(str(sink)).history(),
                                           key=lambda c: c["version"])]


@pytest.mark.parametrize("attempt", range(5))
def test_writers_racing_to_create_the_table_each_land_once(tmp_path, attempt):
    sink, writers = tmp_path / "out", 4
    start, landed = threading.Barrier(writers), {}

    def write(name: str) -> None:
        start.wait()
        landed[name] = _commit(sink, None, name)

    threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(landed.values()) == list(range(writers))
    table = DeltaTable(str(sink))
    for name, version in landed.items():
        assert table.transaction_version(delta.run_app_id(name)) == version
        assert delta.version_of_run(table, name) == version
    assert _operations(sink) == ["CREATE TABLE"] + ["WRITE"] * (writers - 1)
    assert DeltaTable(str(sink), version=0).metadata().id == table.metadata().id
    assert delta.rows_in(table) == writers


def test_an_append_after_a_stale_read_lands_after_the_winner_and_records_where(tmp_path):
    sink = tmp_path / "out"
    assert _commit(sink, None, "first") == 0
    stale = delta.open_table(str(sink), {})
    assert _commit(sink, delta.open_table(str(sink), {}), "winner") == 1
    assert _commit(sink, stale, "late") == 2
    table = DeltaTable(str(sink))
    assert table.transaction_version(delta.run_app_id("late")) == 2
    assert table.transaction_version(delta.run_app_id("winner")) == 1
    assert delta.rows_in(table) == 3


def test_a_late_create_appends_to_the_table_created_meanwhile(tmp_path):
    sink = tmp_path / "out"
    assert _commit(sink, None, "winner") == 0
    assert _commit(sink, None, "late") == 1
    assert _operations(sink) == ["CREATE TABLE", "WRITE"]
    assert DeltaTable(str(sink)).transaction_version(delta.run_app_id("late")) == 1


def test_a_late_append_is_refused_where_the_winner_changed_the_columns(tmp_path):
    sink = tmp_path / "out"
    _commit(sink, None, "first")
    stale = delta.open_table(str(sink), {})
    wider = SCHEMA.append(pa.field("name", pa.string()))
    assert _commit(sink, delta.open_table(str(sink), {}), "winner", "overwrite", wider) == 1
    with pytest.raises(SpecError, match=r"out: an append must keep the table's columns "
                                        r"\(name: string in the table, absent in this run\)"):
        _commit(sink, stale, "late")
    assert DeltaTable(str(sink)).version() == 1


def test_a_commit_that_fails_for_another_reason_is_not_retried(tmp_path):
    from deltalake.exceptions import DeltaError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((DeltaError, OSError)):
        _commit(blocker / "out", None, "first")
