"""The dedup's shuffle through files (``assay.transforms.exchange``): rows land in the
partitions Dask's own shuffle sends them to, with their dtypes; a run on worker processes
uses it and publishes the bytes a p2p run does; the folder is gone after the run, also
after a failed one; and where it cannot be used the run says why or falls back to p2p."""

from __future__ import annotations

import shutil
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import assay
from assay.pipelines.backend import BackendUnavailable
from assay.pipelines.cluster import dask_client
from assay.pipelines.errors import StorageError
from assay.pipelines.shuffle_folder import shuffle_folder, wants_files
from assay.pipelines.spec import ClusterSpec, load_spec
from assay.transforms import exchange
from data_samples.generate import EventDirt, dirty_events, write_csv_files
from tests.fault_kit import comparable

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _frame(rows: int, partitions: int) -> dd.DataFrame:
    """Every kind of column a run's rows carry, nulls included, in ``partitions`` parts."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame({
        "row": np.arange(rows),
        "slot": rng.integers(0, 40, rows),
        "name": pd.array([None if i % 7 == 0 else f"n{i % 13}" for i in range(rows)],
                         dtype="string[pyarrow]"),
        "amount": np.where(np.arange(rows) % 5 == 0, np.nan, rng.random(rows)),
        "count": pd.array([None if i % 9 == 0 else i for i in range(rows)], dtype="Int64"),
        "ts": pd.date_range("2024-01-01", periods=rows, freq="37min", tz="UTC"),
        "flag": np.arange(rows) % 3 == 0,
    })
    return dd.from_pandas(data, npartitions=partitions, sort=False)


def _partitions(frame: dd.DataFrame) -> list[pd.DataFrame]:
    return [part.sort_values("row").reset_index(drop=True)
            for part in dask.compute(*frame.to_delayed(), scheduler="threads")]


@pytest.mark.parametrize("outputs", [1, 7, 64])
def test_rows_land_where_dasks_shuffle_puts_them(outputs: int, tmp_path: Path):
    frame = _frame(3_000, 5)  # 40 slots: 64 outputs leave some empty
    with dask.config.set({"dataframe.shuffle.method": "tasks"}):
        expected = _partitions(frame.shuffle(on="slot", npartitions=outputs))
    with dask.config.set({exchange.FOLDER: str(tmp_path)}):
        through_files = exchange.shuffle(frame, "slot", outputs)
    got = _partitions(through_files)
    assert len(got) == outputs
    for ours, dasks in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(ours, dasks)
    assert sum(map(len, got)) == 3_000
    written = list(tmp_path.rglob("input-*.arrow"))
    assert len(written) == 5  # one file per input, nothing half-written left
    assert not list(tmp_path.rglob("*.partial"))


def test_an_input_without_rows_writes_nothing_an_output_reads(tmp_path: Path):
    frame = _frame(50, 2)
    empty = frame[frame["row"] < 0]
    with dask.config.set({exchange.FOLDER: str(tmp_path)}):
        parts = _partitions(exchange.shuffle(dd.concat([frame, empty]), "slot", 3))
    assert sum(map(len, parts)) == 50
    assert all(list(p.dtypes) == list(frame._meta.dtypes) for p in parts)


@pytest.fixture(scope="module")
def dedup_heavy(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("dedup-heavy")
    paths = write_csv_files(dirty_events(9_000, seed=5, dirt=EventDirt(duplicate_rows=0.4)),
                            folder, n_files=3)
    shutil.copyfile(paths[0], folder / "events-again.csv")
    return [str(folder / "*.csv")]


def _run_on_processes(shuffle: str, output: Path, inputs: list[str]):
    spec = load_spec(SAMPLES / "events" / "pipeline.yaml")
    spec = spec.model_copy(update={"source": spec.source.model_copy(
        update={"block_size": 64 * 1024})})
    cluster = ClusterSpec(workers=2, threads_per_worker=1, processes=True, shuffle=shuffle)
    with dask_client(cluster) as client:
        return assay.run(spec, inputs=inputs, output=str(output), client=client)


def test_worker_processes_shuffle_through_files_and_publish_what_p2p_does(
        dedup_heavy: list[str], tmp_path: Path, backend_log: list[str]):
    with dask.config.set({"temporary-directory": str(tmp_path / "temp")}):
        (tmp_path / "temp").mkdir()
        files = _run_on_processes("auto", tmp_path / "files", dedup_heavy)
        assert any("shuffle through files" in m for m in backend_log)
        assert not list((tmp_path / "temp").glob("assay-shuffle-*"))  # the run's folder
    backend_log.clear()
    p2p = _run_on_processes("p2p", tmp_path / "p2p", dedup_heavy)
    assert not any("shuffle through files" in m for m in backend_log)
    assert files.manifest["accounting"]["dropped_by_step"]["dedup"] > 3_000
    assert comparable(files.manifest) == comparable(p2p.manifest)
    for ours, theirs in zip(files.manifest["shards"], p2p.manifest["shards"], strict=True):
        assert (Path(files.path) / ours["path"]).read_bytes() == \
            (Path(p2p.path) / theirs["path"]).read_bytes()


class _Failed(Exception):
    pass


def test_the_folder_is_removed_when_the_run_fails(tmp_path: Path):
    cluster = ClusterSpec(workers=1, threads_per_worker=1, shuffle="files")
    with dask.config.set({"temporary-directory": str(tmp_path)}), \
            pytest.raises(_Failed), dask_client(cluster):
        folder = Path(dask.config.get(exchange.FOLDER))
        (folder / "input-000000.arrow").write_bytes(b"rows")
        raise _Failed
    assert not folder.exists()
    assert not list(tmp_path.glob("assay-shuffle-*"))


class _WorkersElsewhere:
    """A client whose second worker runs on another machine: it does not see the folder
    (what cannot be arranged on one machine here)."""

    def run(self, function, path):
        return {"tcp://10.0.0.1:1": function(path), "tcp://10.0.0.2:1": False}


def test_files_asked_for_where_a_worker_cannot_see_them(tmp_path: Path):
    with dask.config.set({"temporary-directory": str(tmp_path)}):
        with pytest.raises(BackendUnavailable, match=r"10\.0\.0\.2.*did not"), \
                shuffle_folder(_WorkersElsewhere(), ClusterSpec(shuffle="files"), "pandas",
                               remote=True):
            pass
        with shuffle_folder(_WorkersElsewhere(), ClusterSpec(), "pandas", remote=True):
            assert dask.config.get(exchange.FOLDER, None) is None  # auto: p2p instead
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("shuffle", "backend", "remote", "processes", "files"), [
    ("auto", "pandas", False, False, False),  # thread workers: tasks
    ("auto", "pandas", False, True, True),
    ("auto", "pandas", True, False, True),
    ("auto", "cudf", True, False, False),
    ("p2p", "pandas", True, False, False),
    ("tasks", "pandas", False, True, False),
    ("files", "pandas", False, False, True),
])
def test_which_runs_want_files(shuffle, backend, remote, processes, files):
    cluster = ClusterSpec(shuffle=shuffle, processes=processes)
    assert wants_files(cluster, backend, remote) is files


def test_files_on_the_cudf_backend_are_refused():
    with pytest.raises(BackendUnavailable, match="pandas backend"):
        wants_files(ClusterSpec(shuffle="files"), "cudf", remote=False)



def test_a_shuffle_folder_that_fails_stops_the_run_naming_it(make_spec, uploads,
                                                            tmp_path: Path):
    uploads("a.csv", b"id,name,amount\n1,a,1.0\n1,a,1.0\n2,b,2.5\n")
    spec = make_spec(steps=[{"op": "dedup"}])
    cluster = ClusterSpec(workers=1, threads_per_worker=1, shuffle="files")
    with dask.config.set({"temporary-directory": str(tmp_path / "temp")}), \
            dask_client(cluster) as client:
        folder = Path(dask.config.get(exchange.FOLDER))
        folder.rmdir()
        folder.write_text("a disk that failed under the run")
        with pytest.raises(StorageError) as failed:
            assay.run(spec, client=client)
        assert str(failed.value).startswith(f"{folder}/")  # the run's own shuffle in it
        assert str(failed.value).endswith(": the dedup's shuffle through files failed "
                                          "(NotADirectoryError: [Errno 20] Not a directory)")
    assert not (tmp_path / "out" / "_delta_log").exists()  # nothing published
