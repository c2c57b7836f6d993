"""Converting the old layout (written by the first release's engine: tests/data/legacy_layout)
into the Delta table: every old version's rows are the converted version's, nothing is lost,
and a conversion interrupted at any step finishes when run again."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from assay.pipelines import legacy
from assay.pipelines.errors import DatasetError
from assay.pipelines.table_access import open_table
from tests.care_kit import commit_run, rows_at

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_layout"


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))


def old_state(root: Path) -> dict[str, Any]:
    """What the old layout holds: each version's manifest and rows, each run's quarantined
    rows, the aborted runs' files."""
    versions = {}
    for folder in sorted(root.glob("v0*")):
        shards = sorted(str(p) for p in folder.rglob("*.parquet"))
        data = ds.dataset(shards, partitioning=ds.partitioning(flavor="hive"),
                          partition_base_dir=str(folder))
        versions[folder.name] = {"manifest": json.loads((folder / "manifest.json").read_text()),
                                 "rows": _sorted(data.to_table().to_pylist())}
    quarantine = {}
    for folder in (root / "_quarantine").iterdir():
        pieces = sorted(str(p) for p in folder.rglob("*.parquet"))
        quarantine[folder.name] = _sorted(ds.dataset(pieces).to_table().to_pylist())
    aborted = {p.parent.name: p.read_bytes() for p in root.glob("_quarantine/*/ABORTED.json")}
    return {"versions": versions, "quarantine": quarantine, "aborted": aborted}


def quarantined(root: Path) -> dict[str, list[dict]]:
    rows = DeltaTable(str(root / "_quarantine")).to_pyarrow_table().to_pylist()
    by_run: dict[str, list[dict]] = {}
    for row in rows:
        by_run.setdefault(row.pop("run_id"), []).append(row)
    return {run: _sorted(found) for run, found in by_run.items()}


@pytest.fixture(params=["flat", "split"])
def dataset(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = tmp_path / request.param
    shutil.copytree(LEGACY / request.param, root)
    return root


def check_converted(root: Path, old: dict[str, Any]) -> None:
    """Everything the old layout held, where the table contract puts it."""
    assert not (root / "LATEST").exists() and not list(root.glob("v0*"))
    history = {e["version"]: e for e in DeltaTable(str(root)).history()}
    assert sorted(history) == list(range(len(old["versions"])))
    for version, (name, was) in enumerate(old["versions"].items()):
        manifest_path = root / "_assay" / "runs" / was["manifest"]["run_id"] / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        assert rows_at(root, version) == was["rows"], name  # the same rows, time travel
        assert manifest["version"] == version and manifest["converted_from"] == name
        assert manifest["rows"] == was["manifest"]["rows"] == len(was["rows"])
        assert (manifest["mode"], manifest["quarantine"]["table"]) == ("overwrite",
                                                                      "_quarantine")
        for shard in manifest["shards"]:  # same bytes under the contract's names
            assert hashlib.sha256((root / shard["path"]).read_bytes()).hexdigest() \
                == shard["sha256"]
            assert Path(shard["path"]).name.startswith(f"part-{manifest['run_id']}-")
        for gate in manifest["gates"]:
            assert (root / gate["result_path"]).exists()
            assert (root / gate["result_path"]).with_suffix(".html").exists()
        commit = history[version]
        assert commit["assay.run_id"] == manifest["run_id"]
        assert (commit["assay.mode"], commit["assay.converted_from"]) == ("overwrite", name)
        assert commit["assay.manifest"] == str(manifest_path.relative_to(root))
        uploads = json.loads(commit["assay.uploads"])
        assert [u["sha256"] for u in uploads] == [i["sha256"] for i in manifest["inputs"]]
        for upload in uploads:
            assert DeltaTable(str(root)).transaction_version(
                f"assay-upload-{upload['sha256']}") is not None
    assert quarantined(root) == old["quarantine"]
    assert len(DeltaTable(str(root / "_quarantine")).history()) == len(old["quarantine"])
    for run_id, content in old["aborted"].items():
        assert (root / "_assay" / "runs" / run_id / "ABORTED.json").read_bytes() == content
        assert (root / "_assay" / "runs" / run_id / "gates" / "quality.json").exists()
    assert sorted(p.name for p in (root / "_quarantine").iterdir()) == sorted(
        ["_delta_log", *(f"run_id={run}" for run in old["quarantine"])])


def test_every_old_version_becomes_a_delta_version_with_its_rows(dataset: Path) -> None:
    old = old_state(dataset)
    done = legacy.convert(str(dataset))
    assert done.versions == tuple((name, n) for n, name in enumerate(old["versions"]))
    assert done.aborted == tuple(old["aborted"]) and done.left == ()
    check_converted(dataset, old)


def test_converting_again_does_nothing(dataset: Path) -> None:
    legacy.convert(str(dataset))
    before = sorted(p for p in dataset.rglob("*"))
    assert legacy.convert(str(dataset)) == legacy.Conversion((), (), ())
    assert sorted(p for p in dataset.rglob("*")) == before


class Interrupted(Exception):
    pass


STEPS = ("_move_file", "move_folder", "write_json", "_commit")


def interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> Callable[[], int]:
    """Make the ``step``-th call to any of the conversion's steps raise; returns a
    counter of the calls made."""
    calls = 0

    def wrap(real: Callable) -> Callable:
        def stepped(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == step:
                raise Interrupted(f"stopped at step {step}")
            return real(*args, **kwargs)
        return stepped

    for name in STEPS:
        monkeypatch.setattr(legacy, name, wrap(getattr(legacy, name)))
    return lambda: calls


def test_an_interrupted_conversion_finishes_when_run_again(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = old_state(dataset)
    with monkeypatch.context() as counting:
        steps = interrupt_at(counting, 0)
        legacy.convert(str(shutil.copytree(dataset, tmp_path / "count")))
    total = steps()
    assert total > 10
    for step in range(1, total + 1):
        root = shutil.copytree(dataset, tmp_path / f"step{step}")
        with monkeypatch.context() as patched, pytest.raises(Interrupted):
            interrupt_at(patched, step)
            legacy.convert(str(root))
        with pytest.raises(DatasetError, match="the old layout"):  # LATEST goes last
            open_table(str(root))
        legacy.convert(str(root))
        check_converted(root, old)


def test_a_version_folder_newer_than_latest_is_a_crash_leftover(dataset: Path) -> None:
    old = old_state(dataset)
    newest = sorted(dataset.glob("v0*"))[-1]
    shutil.copytree(newest, dataset / "v000009")  # a publish that died before LATEST moved
    legacy.convert(str(dataset))
    check_converted(dataset, old)


def test_old_staging_goes_and_strange_quarantine_folders_stay(dataset: Path) -> None:
    (dataset / "_staging" / "r-crashed").mkdir(parents=True)
    (dataset / "_staging" / "r-crashed" / "p000000.parquet").write_bytes(b"staged")
    stranger = dataset / "_quarantine" / "someone-elses"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("not a run")
    done = legacy.convert(str(dataset))
    assert not (dataset / "_staging").exists()
    assert done.left == (str(stranger),) and (stranger / "notes.txt").exists()


def test_a_path_that_is_no_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r": not a dataset \(no LATEST, no _delta_log/\)$"):
        legacy.convert(str(tmp_path))


def test_the_rest_of_a_folder_whose_removal_stopped_goes(dataset: Path) -> None:
    old = old_state(dataset)
    legacy.convert(str(dataset))
    (dataset / "LATEST").write_text(list(old["versions"])[-1] + "\n")  # as if it stopped
    remnant = dataset / next(iter(old["versions"])) / "validation"
    remnant.mkdir(parents=True)
    (remnant / "quality.html").write_text("what rmtree had not reached")
    assert legacy.convert(str(dataset)).versions == ()
    check_converted(dataset, old)


def test_old_folders_beside_a_table_runs_published_to_are_refused(dataset: Path) -> None:
    commit_run(dataset, {None: pa.table({"id": [1]})}, run_id="new")
    with pytest.raises(DatasetError, match="both old version folders and a Delta table"):
        legacy.convert(str(dataset))
    assert (dataset / "LATEST").exists() and list(dataset.glob("v0*"))
