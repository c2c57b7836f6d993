"""The engine end to end with steps, dedup, gates and the split: every row accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from assay.pipelines.errors import GateAborted
from tests.pipelines.conftest import read_quarantine
from tests.published import latest_version, leftovers, quarantine_of, rows_of

SCHEMA = {"columns": [
    {"name": "id", "type": "int64", "nullable": False},
    {"name": "user", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "ts", "type": "string"},
    {"name": "amount", "type": "float64"},
]}
EVENTS = (
    "id,user,country,ts,amount\n"
    "1, Ann ,us,2024-01-01T00:00:00Z,10\n"  # 2
    "2,BOB,de,2024-01-02T00:00:00Z,20\n"  # 3
    "2,BOB,de,2024-01-02T00:00:00Z,20\n"  # 4 duplicate of line 3
    "3,cy,xx,2024-01-03T00:00:00Z,30\n"  # 5 country not allowed
    "4,di,fr,not a time,40\n"  # 6 bad timestamp
    "5,ed,jp,2024-01-05T00:00:00Z,-1\n"  # 7 negative amount
    "6,fy,br,2024-01-06T00:00:00Z,\n"  # 8 null amount
    "7,gil,in,2024-01-07T00:00:00Z,70\n"  # 9
)
STEPS = [
    {"op": "normalize", "name": "clean_user", "columns": ["user"], "strip": True,
     "case": "lower"},
    {"op": "normalize", "name": "upper_country", "columns": ["country"], "case": "upper"},
    {"op": "parse_timestamp", "column": "ts"},
    {"op": "dedup", "keep_removed": True},
]
QUALITY = {"name": "quality", "policy": "quarantine", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 1_000_000}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "country", "value_set": ["US", "DE", "FR", "JP", "BR", "IN"]}},
]}


@pytest.fixture
def events(uploads):
    uploads("events.csv", EVENTS.encode())


def test_standard_job_routes_every_row(make_spec, events, run):
    version = run(make_spec(schema=SCHEMA, steps=STEPS, gates=[QUALITY]))
    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == 8
    assert accounting["dropped_by_step"] == {"dedup": 1}
    assert accounting["quarantined_by_stage"] == {"gate:quality": 3, "parse_timestamp": 1}
    assert accounting["rows_written"] == 3
    by_line = {r["_source_line"]: r for r in read_quarantine(version)}
    assert by_line[4]["_fate"] == "dropped"  # kept because keep_removed
    assert by_line[5]["_reasons"] == ["quality: expect_column_values_to_be_in_set(country)"]
    assert by_line[7]["_reasons"] == ["quality: expect_column_values_to_be_between(amount)"]
    assert by_line[8]["_reasons"] == ["quality: expect_column_values_to_not_be_null(amount)"]
    assert by_line[6]["_stage"] == "parse_timestamp"
    table = rows_of(version.path).to_pydict()
    assert sorted(table["user"]) == ["ann", "bob", "gil"]
    assert sorted(table["country"]) == ["DE", "IN", "US"]
    gate = version.manifest["gates"][0]
    assert gate["success"] is False and gate["rows_quarantined"] == 3
    result = json.loads((Path(version.path) / gate["result_path"]).read_text())
    assert result["success"] is False
    assert {r["expectation_config"]["type"] for r in result["results"]} == {
        e["type"] for e in QUALITY["expectations"]}


def test_abort_policy_publishes_nothing(make_spec, events, run, tmp_path):
    with pytest.raises(GateAborted, match="gate 'quality' failed"):
        run(make_spec(schema=SCHEMA, steps=STEPS, gates=[{**QUALITY, "policy": "abort"}]))
    out = tmp_path / "out"
    assert latest_version(out) is None and leftovers(out) == []
    aborted = list(out.glob("_assay/runs/*/ABORTED.json"))
    assert len(aborted) == 1
    record = json.loads(aborted[0].read_text())
    assert "quality" in record["reason"]
    assert (aborted[0].parent / "gates" / "quality.json").exists()
    assert [r["_source_line"] for r in quarantine_of(out, record["run_id"])]  # queryable


def test_warn_policy_publishes_with_failure_recorded(make_spec, events, run):
    version = run(make_spec(schema=SCHEMA, steps=STEPS, gates=[{**QUALITY, "policy": "warn"}]))
    assert version.manifest["rows"] == 6
    assert version.manifest["gates"][0]["success"] is False


def test_quarantine_fraction_limit_aborts(make_spec, events, run):
    gate = {**QUALITY, "max_quarantined_fraction": 0.1}
    with pytest.raises(GateAborted, match="above max_quarantined_fraction"):
        run(make_spec(schema=SCHEMA, steps=STEPS, gates=[gate]))


def test_aggregate_failure_aborts_quarantine_gate(make_spec, events, run):
    gate = {"name": "size", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 100}}]}
    with pytest.raises(GateAborted, match="table-level"):
        run(make_spec(schema=SCHEMA, gates=[gate]))


def test_gate_between_steps(make_spec, events, run):
    early = {"name": "raw_ids", "after": "clean_user", "policy": "quarantine", "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "id", "max_value": 5}}]}
    version = run(make_spec(schema=SCHEMA, steps=STEPS, gates=[early]))
    assert version.manifest["accounting"]["quarantined_by_stage"]["gate:raw_ids"] == 2


def test_split_writes_a_folder_per_split(make_spec, uploads, run):
    rows = "".join(f"{i},u{i % 50},US,2024-01-01T00:00:00Z,{i}\n" for i in range(2000))
    uploads("many.csv", ("id,user,country,ts,amount\n" + rows).encode())
    sink = {"path": "out", "split": {"key": ["user"],
                                      "fractions": {"train": 0.8, "validation": 0.1,
                                                    "test": 0.1}}}
    version = run(make_spec(schema=SCHEMA, sink=sink))
    splits = version.manifest["splits"]
    assert sum(splits.values()) == 2000
    assert splits["train"] > splits["validation"]
    users = {}
    for shard in version.manifest["shards"]:
        table = pq.read_table(Path(version.path) / shard["path"])
        assert shard["path"].startswith(f"split={shard['split']}/")
        for user in set(table.column("user").to_pylist()):
            users.setdefault(user, set()).add(shard["split"])
    assert all(len(s) == 1 for s in users.values())  # a key never straddles splits
    dataset = pq.read_table(version.path, partitioning="hive")  # skips _assay, _delta_log
    assert dataset.num_rows == 2000 and "split" in dataset.column_names
    train = DeltaTable(version.path).to_pyarrow_table(partitions=[("split", "=", "train")])
    assert train.num_rows == splits["train"]


def test_same_shards_whatever_the_worker_count_and_shuffle(make_spec, uploads, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    import assay

    rows = "".join(f"{i % 700},u{i % 50},US,2024-01-01T00:00:00Z,{i % 700}\n"
                   for i in range(3000))
    uploads("many.csv", ("id,user,country,ts,amount\n" + rows).encode())
    spec = make_spec(schema=SCHEMA, steps=STEPS, source={"paths": ["uploads"],
                                                         "block_size": 20_000})
    hashes = []
    for workers, shuffle in ((1, "tasks"), (3, "p2p"), (2, "tasks")):
        with dask.config.set({"dataframe.shuffle.method": shuffle}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                             dashboard_address=None) as cluster, Client(cluster) as client:
            version = assay.run(spec, client=client)
        hashes.append([s["sha256"] for s in version.manifest["shards"]])
    assert hashes[0] == hashes[1] == hashes[2]
    assert version.manifest["accounting"]["dropped_by_step"]["dedup"] == 3000 - 700
