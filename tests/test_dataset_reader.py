"""``assay.open_dataset``: versions, splits, the manifest, history, verification, errors and
every conversion, on Delta tables laid out as the engine publishes them (tests/table_kit.py).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

import assay
from assay.pipelines.errors import EXIT_INVALID_SPEC, EXIT_STORAGE, DatasetCorrupt, DatasetError
from tests.table_kit import TableKit, rows

# The split table's runs: what each version holds, by split.
V0 = {"train": rows(0, 25), "test": rows(100, 5)}
V1 = {"train": rows(25, 10)}
V2 = {"train": rows(300, 12), "test": rows(400, 3)}  # an overwrite
V3 = {"test": rows(500, 4)}


def _ids(table: pa.Table) -> list[int]:
    return sorted(table["id"].to_pylist())


def _ids_of(*parts: dict[str, pa.Table], split: str | None = None) -> list[int]:
    return sorted(i for part in parts for name, table in part.items()
                  if split in (None, name) for i in table["id"].to_pylist())


@pytest.fixture(scope="module")
def split_table(tmp_path_factory: pytest.TempPathFactory) -> TableKit:
    kit = TableKit(tmp_path_factory.mktemp("split") / "events", split=True)
    kit.publish(V0)
    kit.publish(V1, uploads=["uploads/b.csv", "uploads/c.csv"])
    kit.publish(V2, mode="overwrite")
    kit.publish(V3)
    return kit


@pytest.fixture(scope="module")
def flat_table(tmp_path_factory: pytest.TempPathFactory) -> TableKit:
    kit = TableKit(tmp_path_factory.mktemp("flat") / "events")
    kit.publish(rows(0, 15))
    kit.publish(rows(15, 5))
    return kit


@pytest.fixture
def own_table(tmp_path: Path) -> TableKit:
    """A table a test may damage."""
    kit = TableKit(tmp_path / "events", split=True)
    kit.publish(V0)
    kit.publish(V1)
    return kit


# --- versions and time travel ----------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), [
    (0, [V0]), (1, [V0, V1]), (2, [V2]), (3, [V2, V3]), (None, [V2, V3])])
def test_each_version_reads_its_own_rows(split_table: TableKit, version, expected) -> None:
    dataset = assay.open_dataset(split_table.root, version)
    assert dataset.version == (3 if version is None else version)
    assert _ids(dataset.to_arrow()) == _ids_of(*expected)
    assert dataset.manifest["version"] == dataset.version
    assert dataset.manifest["rows"] == len(_ids_of(*expected))


def test_an_overwrite_leaves_old_files_that_only_the_log_leaves_out(split_table) -> None:
    dataset = assay.open_dataset(split_table.root, 2)
    on_disk = sorted(str(p) for p in split_table.root.glob("split=*/*.parquet"))
    assert len(dataset.files()) == 3  # 12 train rows in 2 shards, 3 test rows in 1
    assert set(dataset.files()) < set(on_disk)  # a glob would read versions 0 and 1 too
    assert all(split_table.run_ids[2] in Path(uri).name for uri in dataset.files())


def test_a_dataset_is_a_snapshot(own_table: TableKit) -> None:
    dataset = assay.open_dataset(own_table.root)
    before = _ids(dataset.to_arrow())
    own_table.publish({"test": rows(900, 2)})
    assert dataset.version == 1
    assert _ids(dataset.to_arrow()) == before
    assert assay.open_dataset(own_table.root).version == 2


def test_a_vacuum_makes_versions_without_a_run(tmp_path: Path) -> None:
    """delta-rs's vacuum commits twice (start, end): the data is the last run's, and so is
    the manifest; the removed files were the ones no version since the overwrite reads."""
    kit = TableKit(tmp_path / "events", split=True)
    kit.publish(V0)
    kit.publish(V2, mode="overwrite")
    removed = DeltaTable(kit.root).vacuum(retention_hours=0, enforce_retention_duration=False,
                                          dry_run=False)
    assert len(removed) == 4  # version 0's shards
    dataset = assay.open_dataset(kit.root)
    assert dataset.version == 3
    assert [(entry.operation, entry.run_id) for entry in dataset.history()[:2]] == [
        ("VACUUM END", None), ("VACUUM START", None)]
    assert dataset.manifest["run_id"] == kit.run_ids[1]
    assert dataset.verify().runs == (kit.run_ids[1],)
    assert _ids(dataset.to_arrow()) == _ids_of(V2)


# --- splits and files ----------------------------------------------------------------------


def test_splits_count_rows_from_the_log(split_table: TableKit) -> None:
    assert assay.open_dataset(split_table.root, 1).splits == {"test": 5, "train": 35}
    assert assay.open_dataset(split_table.root).splits == {"test": 7, "train": 12}


def test_one_split_reads_its_rows_with_the_split_column(split_table: TableKit) -> None:
    dataset = assay.open_dataset(split_table.root)
    for name in ("train", "test"):
        table = dataset.to_arrow(split=name)
        assert _ids(table) == _ids_of(V2, V3, split=name)
        assert set(table["split"].to_pylist()) == {name}
        assert all(f"/split={name}/" in uri for uri in dataset.files(split=name))
    assert set(dataset.to_arrow()["split"].to_pylist()) == {"train", "test"}


def test_files_are_absolute_and_in_reading_order(split_table: TableKit) -> None:
    dataset = assay.open_dataset(split_table.root)
    files = dataset.files()
    assert files == sorted(files)
    assert all(Path(uri).is_absolute() and Path(uri).exists() for uri in files)
    in_order = pa.concat_tables(pq.read_table(uri, columns=["id"]) for uri in files)
    assert in_order["id"].equals(dataset.to_arrow()["id"])


def test_an_unsplit_dataset(flat_table: TableKit) -> None:
    dataset = assay.open_dataset(flat_table.root)
    assert dataset.splits == {}
    assert dataset.to_arrow().column_names == [field.name for field in flat_table.delta_schema]
    assert _ids(dataset.to_arrow()) == list(range(20))
    with pytest.raises(DatasetError, match=r"has no split 'train' \(its splits: none"):
        dataset.to_arrow(split="train")


def test_an_unknown_split_names_the_splits_there(split_table: TableKit) -> None:
    dataset = assay.open_dataset(split_table.root)
    with pytest.raises(DatasetError, match=r"version 3 has no split 'dev' "
                                              r"\(its splits: test, train\)"):
        dataset.files(split="dev")


# --- the manifest and history -----------------------------------------------------------------


def test_the_manifest_is_the_run_that_made_the_version(split_table: TableKit) -> None:
    for version, run_id in enumerate(split_table.run_ids):
        manifest = assay.open_dataset(split_table.root, version).manifest
        assert manifest["run_id"] == run_id
        assert manifest["mode"] == ("overwrite" if version == 2 else "append")


def test_history_lists_the_versions_up_to_the_opened_one_newest_first(split_table) -> None:
    history = assay.open_dataset(split_table.root, 2).history()
    assert [entry.version for entry in history] == [2, 1, 0]
    assert [entry.run_id for entry in history] == split_table.run_ids[2::-1]
    assert [entry.mode for entry in history] == ["overwrite", "append", "append"]
    assert [entry.rows_added for entry in history] == [15, 10, 30]
    assert {entry.pipeline for entry in history} == {"events"}
    assert [u["path"] for u in history[1].uploads] == ["uploads/b.csv", "uploads/c.csv"]
    assert history[0].manifest_path == f"_assay/runs/{split_table.run_ids[2]}/manifest.json"
    assert history[0].timestamp >= history[1].timestamp >= history[2].timestamp
    assert history[2].operation == "CREATE TABLE"
    # the contract's application transactions: an upload is published iff its id is there
    table = DeltaTable(split_table.root)
    assert all(table.transaction_version(f"assay-upload-{u['sha256']}") == 1
               for u in history[1].uploads)
    assert table.transaction_version(f"assay-upload-{'0' * 64}") is None


# --- verification ----------------------------------------------------------------------------


def test_verify_checks_every_live_file(split_table: TableKit) -> None:
    dataset = assay.open_dataset(split_table.root)
    verified = dataset.verify()
    assert verified.version == 3
    assert verified.files == len(dataset.files())
    assert verified.bytes == sum(Path(uri).stat().st_size for uri in dataset.files())
    assert verified.runs == tuple(split_table.run_ids[2:])


def test_verify_names_a_changed_file_and_both_hashes(own_table: TableKit) -> None:
    dataset = assay.open_dataset(own_table.root)
    victim = Path(dataset.files(split="test")[0])
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    victim.write_bytes(bytes(data))
    relative = victim.relative_to(own_table.root).as_posix()
    manifest = assay.open_dataset(own_table.root, 0).manifest
    recorded = next(s["sha256"] for s in manifest["shards"] if s["path"] == relative)
    actual = hashlib.sha256(data).hexdigest()
    with pytest.raises(DatasetCorrupt) as caught:
        dataset.verify()
    message = str(caught.value)
    assert message.splitlines()[0] == \
        f"{own_table.root} version 1: 1 of 5 files failed verification"
    assert f"{relative}: sha256 {actual}, but _assay/runs/" in message
    assert f"records {recorded}" in message
    assert caught.value.exit_code == EXIT_STORAGE


def test_verify_names_a_missing_file(own_table: TableKit) -> None:
    dataset = assay.open_dataset(own_table.root)
    victim = Path(dataset.files(split="train")[-1])
    victim.unlink()
    relative = victim.relative_to(own_table.root).as_posix()
    with pytest.raises(DatasetCorrupt, match=rf"{relative}: missing from storage \(version 1"):
        dataset.verify()


def test_verify_names_a_missing_manifest(own_table: TableKit) -> None:
    manifest = own_table.root / f"_assay/runs/{own_table.run_ids[0]}/manifest.json"
    manifest.unlink()
    with pytest.raises(DatasetCorrupt, match=r"4 of 5 files failed verification") as caught:
        assay.open_dataset(own_table.root).verify()
    assert f"its run's manifest {manifest.relative_to(own_table.root)} is missing" in \
        str(caught.value)
    with pytest.raises(DatasetCorrupt, match=r"the manifest of version 0 .* is missing"):
        _ = assay.open_dataset(own_table.root, 0).manifest


# --- what is not there ---------------------------------------------------------------------


def test_a_version_that_does_not_exist_names_the_latest(split_table: TableKit) -> None:
    for version in (4, -1):
        with pytest.raises(DatasetError, match=rf"has no version {version} "
                                                  r"\(the latest is version 3\)"):
            assay.open_dataset(split_table.root, version)


def test_an_old_layout_dataset_points_at_assay_convert(tmp_path: Path) -> None:
    (tmp_path / "v000001").mkdir()
    (tmp_path / "v000001" / "part-00000.parquet").write_bytes(b"")
    (tmp_path / "LATEST").write_text("v000001\n")
    with pytest.raises(DatasetError, match=r"old layout .* `assay convert` converts it"):
        assay.open_dataset(tmp_path)


@pytest.mark.parametrize(("setup", "message"), [
    (None, r"no dataset at .*/missing: nothing is there"),
    ("empty", r"no dataset at .*/missing: nothing is there"),
    ("parquet", r"is not a Delta table: no commit in its _delta_log/ \(it holds a.parquet\)"),
    ("file", r"cannot open .*/missing as a Delta table"),
])
def test_a_path_that_is_not_a_table(tmp_path: Path, setup: str | None, message: str) -> None:
    path = tmp_path / "missing"
    if setup == "file":
        path.write_text("not a folder")
    elif setup is not None:
        path.mkdir()
        if setup == "parquet":
            pq.write_table(rows(0, 1), path / "a.parquet")
    with pytest.raises(DatasetError, match=message) as caught:
        assay.open_dataset(path)
    assert caught.value.exit_code == EXIT_INVALID_SPEC  # as inspect, diff and vacuum say it


# --- conversions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("split", "columns"), [
    (None, None), ("train", None), ("test", ["tags", "id", "split"]), (None, ["at", "text"])])
def test_every_conversion_gives_the_same_rows_and_types(split_table, split, columns) -> None:
    import datasets
    import polars
    from pandas.testing import assert_frame_equal

    dataset = assay.open_dataset(split_table.root, 3)
    arrow = dataset.to_arrow(split, columns)
    assert arrow.column_names == (columns or [f.name for f in split_table.delta_schema])
    assert arrow.schema == pa.schema([split_table.delta_schema.field(name)
                                      for name in arrow.column_names])
    frame = dataset.to_pandas(split, columns)
    assert_frame_equal(frame, arrow.to_pandas())
    dask = dataset.to_dask(split, columns)
    assert dask.npartitions == len(dataset.files(split))
    assert dict(dask.dtypes) == dict(frame.dtypes)
    assert_frame_equal(dask.compute().reset_index(drop=True), frame)
    assert dataset.to_polars(split, columns).equals(polars.from_arrow(arrow))
    hf = dataset.to_hf(split, columns)
    assert hf.features == datasets.Features.from_arrow_schema(arrow.schema)
    assert hf.with_format("arrow")[:].equals(arrow)


def test_an_empty_version_converts_to_empty_frames(tmp_path: Path) -> None:
    kit = TableKit(tmp_path / "events", split=True)
    kit.publish(V0)
    kit.publish({"train": rows(0, 0)}, mode="overwrite")  # every row quarantined, say
    dataset = assay.open_dataset(kit.root)
    assert dataset.splits == {}
    assert dataset.files() == []
    assert dataset.to_arrow().schema == kit.delta_schema
    assert len(dataset.to_dask().compute()) == 0
    assert dataset.verify().files == 0


@pytest.mark.parametrize(("method", "install"), [
    ("to_hf", "pip install 'assay[hf]'"), ("to_polars", "pip install polars")])
def test_a_missing_optional_library_says_how_to_install_it(
        split_table, monkeypatch: pytest.MonkeyPatch, method: str, install: str) -> None:
    module = {"to_hf": "datasets", "to_polars": "polars"}[method]
    monkeypatch.setitem(sys.modules, module, None)  # what an absent module imports as
    dataset = assay.open_dataset(split_table.root)
    with pytest.raises(ModuleNotFoundError) as caught:
        getattr(dataset, method)()
    assert str(caught.value) == f"{method}() needs {module}, which is not installed: {install}"


def test_importing_assay_loads_no_reader_library() -> None:
    code = ("import sys, assay; heavy = {'deltalake', 'pyarrow', 'pandas', 'assay.dataset'}; "
            "assert not heavy & set(sys.modules), heavy & set(sys.modules); "
            "assert assay.open_dataset.__module__ == 'assay.dataset'")
    subprocess.run([sys.executable, "-c", code], check=True)
