"""Publishing to the Delta table: the manifest contract, determinism, modes, and storage
failures before, at and after the commit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from deltalake import DeltaTable

from assay.pipelines import table as delta
from assay.pipelines.errors import AlreadyPublished, SpecError, StorageError
from assay.pipelines.plan import plan_run
from assay.pipelines.publish import publish_run
from assay.pipelines.runner import execute_run
from tests.pipelines.conftest import BASIC_SCHEMA, load_manifest
from tests.published import (
    commits,
    latest_version,
    leftovers,
    rows_of,
    shard_bytes,
)
from tests.published import manifest_of as manifest_of_version

ROWS = b"id,name,amount\n" + b"".join(b"%d,n%d,%d.5\n" % (i, i % 7, i) for i in range(3000))
MORE = b"id,name,amount\n" + b"".join(b"%d,m%d,%d.5\n" % (i, i % 5, i) for i in range(3000, 3500))


def test_manifest_holds_the_dataset_contract(make_spec, uploads, run):
    uploads("a.csv", ROWS)
    version = run(make_spec(sink={"path": "out", "target_shard_bytes": 4096,
                                  "row_group_rows": 500}))
    manifest = load_manifest(version)
    for key in ("version", "created_at", "spec_sha256", "backend", "rows", "rows_added",
                "mode", "shards", "schema", "inputs", "accounting", "gates", "quarantine"):
        assert key in manifest
    assert manifest["version"] == version.version == 0 and manifest["mode"] == "overwrite"
    assert len(manifest["shards"]) > 1
    for shard in manifest["shards"]:
        data = (Path(version.path) / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert len(data) == shard["bytes"]
    assert sum(s["rows"] for s in manifest["shards"]) == manifest["rows"] == 3000
    upload = Path(manifest["inputs"][0]["path"]).read_bytes()
    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(upload).hexdigest()
    table = DeltaTable(version.path)
    assert table.version() == 0 and table.to_pyarrow_table().num_rows == 3000
    assert sorted(Path(u).name for u in table.file_uris()) == \
        sorted(Path(s["path"]).name for s in manifest["shards"])
    (commit,) = commits(version.path)
    assert commit["assay.run_id"] == manifest["run_id"]
    assert commit["assay.manifest"] == f"_assay/runs/{manifest['run_id']}/manifest.json"


def test_same_input_gives_byte_identical_shards(make_spec, uploads, run):
    uploads("a.csv", ROWS)
    spec = make_spec(sink={"path": "out", "target_shard_bytes": 8192, "row_group_rows": 700})
    first = run(spec)
    before = shard_bytes(first.path)
    second = run(spec)
    assert second.version == 1
    assert [s["sha256"] for s in first.manifest["shards"]] == \
        [s["sha256"] for s in second.manifest["shards"]]
    assert shard_bytes(second.path) == before  # an overwrite: the same files' worth, once
    assert rows_of(second.path).num_rows == 3000


def test_append_adds_rows_and_refuses_the_same_upload_twice(make_spec, uploads, run, tmp_path):
    uploads("a.csv", ROWS)
    spec = make_spec(sink={"path": "out", "mode": "append"})
    first = run(spec)
    more = tmp_path / "more.csv"
    more.write_bytes(MORE)
    second = run(spec, inputs=[str(more)])
    assert (second.version, second.manifest["rows"], second.manifest["rows_added"]) == \
        (1, 3500, 500)
    assert rows_of(second.path).num_rows == 3500
    assert rows_of(second.path, version=0).num_rows == 3000  # time travel
    sha = second.manifest["inputs"][0]["sha256"]
    assert DeltaTable(second.path).transaction_version(delta.upload_app_id(sha)) == 1
    with pytest.raises(AlreadyPublished, match=r"more\.csv: already in the dataset "
                                               r"\(version 1"):
        run(spec, inputs=[str(more)])
    assert latest_version(first.path) == 1 and leftovers(first.path) == []


def test_an_append_that_changes_the_columns_is_refused(make_spec, uploads, run, tmp_path):
    uploads("a.csv", ROWS)
    run(make_spec(sink={"path": "out", "mode": "append"}))
    other = tmp_path / "other.csv"
    other.write_bytes(b"id,name,amount\n1,x,2.5\n")
    wider = make_spec(sink={"path": "out", "mode": "append"}, schema={"columns": [
        {"name": "id", "type": "int64"}, {"name": "name", "type": "string"},
        {"name": "amount", "type": "string"}]})
    with pytest.raises(SpecError, match="amount: double in the table, string in this run"):
        run(wider, inputs=[str(other)])
    assert latest_version(tmp_path / "out") == 0
    assert leftovers(tmp_path / "out") == []  # the next run of the dataset cleans: none yet
    assert rows_of(tmp_path / "out").num_rows == 3000


def test_storage_failure_at_the_commit(make_spec, uploads, run, dask_client, monkeypatch):
    """The commit itself fails (killed processes: tests/pipelines/test_kill.py): the last
    version stays as it was, and the next run removes what the failed one placed."""
    uploads("a.csv", ROWS)
    spec = make_spec()
    run(spec)
    staged = execute_run(plan_run(spec), dask_client)
    original = delta.commit

    def failing(*args, **kwargs):
        raise OSError("disk vanished")

    monkeypatch.setattr(delta, "commit", failing)
    with pytest.raises(StorageError, match=r": publish failed \(OSError: disk vanished\)"):
        publish_run(staged)
    monkeypatch.setattr(delta, "commit", original)
    sink = Path(staged.plan.sink_path)
    assert latest_version(sink) == 0 and rows_of(sink).num_rows == 3000
    assert leftovers(sink)  # placed shards no commit lists, until the next run
    again = run(spec)
    assert again.version == 1 and leftovers(sink) == []


def _failing_once(monkeypatch, fails) -> None:
    """LocalFileSystem.mv raises OSError once, for the first move ``fails(path1, path2)``
    picks."""
    import fsspec.implementations.local as local

    original, failed = local.LocalFileSystem.mv, []

    def mv(self, path1, path2, *args, **kwargs):
        if not failed and fails(str(path1), str(path2)):
            failed.append(path2)
            raise OSError("store blinked")
        return original(self, path1, path2, *args, **kwargs)

    monkeypatch.setattr(local.LocalFileSystem, "mv", mv)


@pytest.mark.parametrize("where", ["second shard", "gate results", "quarantine"])
def test_a_retried_publish_resumes_where_the_failed_try_stopped(
        make_spec, uploads, run, dask_client, monkeypatch, where):
    """The flow retries publish-version: the retry finishes the same version, with the
    shards an undisturbed run publishes."""
    uploads("a.csv", ROWS + b"3000,x,-1\n")
    spec = make_spec(sink={"path": "out", "target_shard_bytes": 4096, "row_group_rows": 700},
                     gates=[{"name": "basic", "policy": "quarantine", "expectations": [{
                         "type": "expect_column_values_to_be_between",
                         "kwargs": {"column": "amount", "min_value": 0}}]}])
    undisturbed = run(spec)
    staged = execute_run(plan_run(spec), dask_client)
    assert len(staged.shards) > 1 and staged.quarantine
    fails = {"second shard": lambda a, b: b.endswith("-00001.parquet"),
             "gate results": lambda a, b: b.endswith("/gates"),
             "quarantine": lambda a, b: "run_id=" in b}[where]
    _failing_once(monkeypatch, fails)
    with pytest.raises(StorageError, match="store blinked"):
        publish_run(staged)
    published = publish_run(staged)
    sink = Path(staged.plan.sink_path)
    assert published.version == latest_version(sink) == 1
    assert published.manifest["run_id"] == staged.plan.run_id
    assert [s["sha256"] for s in published.manifest["shards"]] == \
        [s["sha256"] for s in undisturbed.manifest["shards"]]
    for shard in published.manifest["shards"]:
        data = (sink / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    assert not Path(staged.staging_path).exists() and leftovers(sink) == []
    quarantine = DeltaTable(str(sink / "_quarantine")).to_pyarrow_table(
        partitions=[("run_id", "=", staged.plan.run_id)])
    assert quarantine.num_rows == 1 and quarantine["_source_line"].to_pylist() == [3002]


def test_the_quarantine_is_a_table_queried_by_reason(make_spec, uploads, run):
    import polars as pl

    uploads("a.csv", b"id,name,amount\n1,a,1.5\nx,b,2.5\n3,c,zz\n")
    version = run(make_spec())
    rejected = (pl.scan_delta(f"{version.path}/_quarantine")
                .explode("_reasons")
                .filter(pl.col("_reasons").str.contains("is not"))
                .select("_source_line", "_reasons", "run_id").collect())
    assert sorted(rejected["_source_line"].to_list()) == [3, 4]
    assert set(rejected["run_id"].to_list()) == {version.manifest["run_id"]}


_APPEND_WHEN_TOLD = """
import sys, time
from pathlib import Path
import assay
spec, upload, sink, go = sys.argv[1:]
while not Path(go).exists():
    time.sleep(0.01)
print(assay.run(spec, inputs=[upload], output=sink).version)
"""


def test_two_processes_without_a_shared_lock_both_land(tmp_path):
    """Two processes with their own data directories (so not sharing the dataset lock)
    append to one new table at once: delta-rs lands both commits, neither run cleans the
    other's staging, and every row is there once."""
    import os
    import subprocess
    import sys

    import yaml

    spec_path = tmp_path / "pipeline.yaml"
    spec_path.write_text(yaml.safe_dump({
        "name": "race", "source": {"paths": ["uploads"]}, "schema": BASIC_SCHEMA,
        "sink": {"path": "out", "mode": "append"},
        "cluster": {"workers": 1, "processes": False}}))
    go, sink = tmp_path / "go", tmp_path / "out"
    runs = []
    for name, body in (("a.csv", ROWS), ("b.csv", MORE)):
        (tmp_path / name).write_bytes(body)
        env = {**os.environ, "ASSAY_DATA_DIR": str(tmp_path / f"data-{name}")}
        runs.append(subprocess.Popen(
            [sys.executable, "-c", _APPEND_WHEN_TOLD, str(spec_path), str(tmp_path / name),
             str(sink), str(go)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    go.touch()
    versions = []
    for run in runs:
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
        versions.append(int(out.split()[-1]))
    assert sorted(versions) == [0, 1] and latest_version(sink) == 1
    ids = rows_of(sink).column("id").to_pylist()
    assert sorted(ids) == list(range(3500)) and leftovers(sink) == []
    added = [manifest_of_version(sink, version)["rows_added"] for version in (0, 1)]
    assert sorted(added) == [500, 3000]


def test_a_run_into_the_old_layout_is_refused_until_converted(make_spec, uploads, run,
                                                              tmp_path):
    import shutil

    from assay.pipelines.errors import DatasetError
    from assay.pipelines.legacy import convert

    uploads("a.csv", ROWS)
    old = tmp_path / "out"
    shutil.copytree(Path(__file__).parents[1] / "data" / "legacy_layout" / "flat", old)
    with pytest.raises(DatasetError, match=r"out: the old layout \(version folders and "
                                           r"LATEST\); run `assay convert .*out` first"):
        run(make_spec())
    assert latest_version(old) is None  # nothing written beside the old versions
    convert(str(old))
    converted = latest_version(old)
    assert run(make_spec()).version == converted + 1
