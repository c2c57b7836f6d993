"""Publishing: manifest contract, determinism, and a storage failure at the pointer switch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from assay.pipelines.errors import StorageError
from assay.pipelines.plan import plan_run
from assay.pipelines.publish import publish_run
from assay.pipelines.runner import execute_run
from tests.pipelines.conftest import load_manifest

ROWS = b"id,name,amount\n" + b"".join(b"%d,n%d,%d.5\n" % (i, i % 7, i) for i in range(3000))


def test_manifest_holds_the_dataset_contract(make_spec, uploads, run):
    uploads("a.csv", ROWS)
    version = run(make_spec(sink={"path": "out", "target_shard_bytes": 4096,
                                  "row_group_rows": 500}))
    manifest = load_manifest(version)
    for key in ("version", "created_at", "spec_sha256", "backend", "rows", "shards", "schema",
                "inputs", "accounting", "gates"):
        assert key in manifest
    assert manifest["version"] == "v000001"
    assert len(manifest["shards"]) > 1
    for shard in manifest["shards"]:
        data = (Path(version.path) / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert len(data) == shard["bytes"]
    assert sum(s["rows"] for s in manifest["shards"]) == manifest["rows"] == 3000
    upload = Path(manifest["inputs"][0]["path"]).read_bytes()
    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(upload).hexdigest()
    assert (Path(version.path).parent / "LATEST").read_text().strip() == "v000001"


def test_same_input_gives_byte_identical_shards(make_spec, uploads, run):
    uploads("a.csv", ROWS)
    spec = make_spec(sink={"path": "out", "target_shard_bytes": 8192, "row_group_rows": 700})
    first, second = run(spec), run(spec)
    assert second.version == "v000002"
    assert [s["sha256"] for s in first.manifest["shards"]] == \
        [s["sha256"] for s in second.manifest["shards"]]


def test_storage_failure_at_the_pointer_switch(make_spec, uploads, run, dask_client,
                                               monkeypatch):
    """The switch itself fails (killed processes: tests/pipelines/test_kill.py)."""
    uploads("a.csv", ROWS)
    spec = make_spec()
    run(spec)
    staged = execute_run(plan_run(spec), dask_client)
    import fsspec.implementations.local as local

    original = local.LocalFileSystem.mv

    def failing_mv(self, path1, path2, *args, **kwargs):
        if str(path2).endswith("LATEST"):
            raise OSError("disk vanished")
        return original(self, path1, path2, *args, **kwargs)

    monkeypatch.setattr(local.LocalFileSystem, "mv", failing_mv)
    with pytest.raises(StorageError, match=r": publish failed \(OSError: disk vanished\)"):
        publish_run(staged)
    monkeypatch.undo()
    sink = Path(staged.plan.sink_path)
    assert (sink / "LATEST").read_text().strip() == "v000001"
    assert (sink / "v000002").exists()  # complete but never pointed at
    assert json.loads((sink / "v000001" / "manifest.json").read_text())["rows"] == 3000
    again = run(spec)
    assert again.version == "v000002"
    assert (sink / "LATEST").read_text().strip() == "v000002"


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


@pytest.mark.parametrize("where", ["second shard", "version rename", "pointer switch"])
def test_a_retried_publish_resumes_where_the_failed_try_stopped(
        make_spec, uploads, run, dask_client, monkeypatch, where):
    """The flow retries publish-version: the retry finishes the same version, with the
    shards an undisturbed run publishes."""
    uploads("a.csv", ROWS)
    spec = make_spec(sink={"path": "out", "target_shard_bytes": 8192, "row_group_rows": 700})
    undisturbed = run(spec)
    staged = execute_run(plan_run(spec), dask_client)
    assert len(staged.shards) > 1
    fails = {"second shard": lambda a, b: b.endswith("part-00001.parquet"),
             "version rename": lambda a, b: b.endswith("/v000002"),
             "pointer switch": lambda a, b: b.endswith("LATEST")}[where]
    _failing_once(monkeypatch, fails)
    with pytest.raises(StorageError, match="store blinked"):
        publish_run(staged)
    published = publish_run(staged)
    sink = Path(staged.plan.sink_path)
    assert published.version == "v000002"
    assert (sink / "LATEST").read_text().strip() == "v000002"
    assert published.manifest["run_id"] == staged.plan.run_id
    assert [s["sha256"] for s in published.manifest["shards"]] == \
        [s["sha256"] for s in undisturbed.manifest["shards"]]
    for shard in published.manifest["shards"]:
        data = (sink / "v000002" / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    assert not Path(staged.staging_path).exists()
