"""Which runs skip the cluster (``assay.pipelines.in_process``): ones small against the
machine's memory that name no scheduler, want no worker processes or worker memory limit
and run on pandas; on how many threads; and their progress. That their output is a cluster
run's, byte for byte, is ``test_determinism``'s."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask.system import CPU_COUNT

from assay.pipelines import in_process
from assay.pipelines.in_process import compute, runs_in_process, thread_count
from assay.pipelines.sources.parquet_reader import parquet_blocks
from assay.pipelines.spec import ClusterSpec


@dataclass
class _Found:
    size: int
    compression: str | None = None


@dataclass
class _Upload:
    found: _Found
    decoded_size: int | None = None


@dataclass
class _Step:
    heap_temporaries: bool = False


@dataclass
class _Spec:
    steps: list[_Step] = field(default_factory=list)
    gates: list[object] = field(default_factory=list)


@dataclass
class _Plan:
    inputs: list[_Upload]
    run_id: str = "r"
    spec: _Spec = field(default_factory=_Spec)


def _plan(*sizes: int) -> _Plan:
    return _Plan([_Upload(_Found(size)) for size in sizes])


MIB = 2**20


def test_auto_counts_what_the_run_will_hold_not_the_file_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An eighth of 1 GiB is 128 MiB: a Parquet file by its footer's decoded bytes, a
    compressed CSV by five times its size, and a run with a text step four times that."""
    monkeypatch.setattr(in_process, "_machine_memory", lambda: 1 << 30)
    cluster = ClusterSpec()

    def here(plan: _Plan) -> bool:
        return runs_in_process(cluster, plan, "pandas", None)

    assert here(_Plan([_Upload(_Found(50 * MIB), decoded_size=100 * MIB)]))
    assert not here(_Plan([_Upload(_Found(50 * MIB), decoded_size=130 * MIB)]))
    assert here(_Plan([_Upload(_Found(25 * MIB, "gzip"))]))
    assert not here(_Plan([_Upload(_Found(26 * MIB, "gzip"))]))
    text = _Spec([_Step(), _Step(heap_temporaries=True)])
    assert here(_Plan([_Upload(_Found(40 * MIB))], spec=_Spec([_Step()])))
    assert not here(_Plan([_Upload(_Found(40 * MIB))], spec=text))
    assert here(_Plan([_Upload(_Found(30 * MIB))], spec=text))
    assert here(_Plan([_Upload(_Found(3 * MIB, "gzip"), decoded_size=None)], spec=text))


def test_a_parquet_uploads_decoded_bytes_come_from_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    table = pa.table({"text": [f"{i} " + "word " * 200 for i in range(3000)],
                      "n": list(range(3000))})
    pq.write_table(table, path, row_group_size=1000, compression="zstd")
    _, names, decoded = parquet_blocks(str(path), {}, 1 << 26)
    metadata = pq.ParquetFile(path).metadata
    assert names == ["text", "n"]
    assert decoded == sum(metadata.row_group(g).total_byte_size for g in range(3))
    assert decoded > 3 * path.stat().st_size  # zstd made the file far smaller
    assert decoded > 3000 * 1000  # about the texts' bytes (unique: no dictionary)


def test_by_default_uploads_below_an_eighth_of_memory_run_in_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(in_process, "_machine_memory", lambda: 1 << 30)  # 1 GiB
    cluster = ClusterSpec()
    assert cluster.in_process_below == "auto"
    assert runs_in_process(cluster, _plan(10, 2**20), "pandas", None)
    assert runs_in_process(cluster, _plan(100 * 2**20, 27 * 2**20), "pandas", None)
    assert not runs_in_process(cluster, _plan(100 * 2**20, 28 * 2**20), "pandas", None)


def test_the_machines_memory_is_read_as_dask_reads_it_without_importing_distributed(
        ) -> None:
    from distributed.system import MEMORY_LIMIT

    probe = ("import sys; from assay.pipelines import in_process; "
             "print(in_process._machine_memory(), "
             "any(m.split('.')[0] == 'distributed' for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [str(MEMORY_LIMIT), "False"]
    assert MEMORY_LIMIT > 0


def test_the_machines_memory_falls_back_to_importing_dasks_module(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed.system import MEMORY_LIMIT

    def moved(name: str, alias: str) -> None:
        raise ImportError(f"{name} needs its package now")

    monkeypatch.setattr(in_process, "_module_from_file", moved)
    monkeypatch.delitem(sys.modules, "distributed.system")
    in_process._machine_memory.cache_clear()
    try:
        assert in_process._machine_memory() == MEMORY_LIMIT
        assert "distributed.system" in sys.modules
    finally:
        in_process._machine_memory.cache_clear()


def test_a_worker_memory_limit_keeps_the_cluster_above_4_mib(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(in_process, "_machine_memory", lambda: 1 << 40)
    cluster = ClusterSpec(memory_limit="512MiB")
    assert runs_in_process(cluster, _plan(4 * 2**20 - 1), "pandas", None)
    assert not runs_in_process(cluster, _plan(4 * 2**20), "pandas", None)


def test_a_size_given_is_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(in_process, "_machine_memory", lambda: 1 << 40)
    cluster = ClusterSpec(in_process_below="1MiB")
    assert runs_in_process(cluster, _plan(2**20 - 1), "pandas", None)
    assert not runs_in_process(cluster, _plan(2**20), "pandas", None)


@pytest.mark.parametrize("why", ["zero", "address", "cli-address", "processes", "cudf"])
def test_a_run_keeps_its_cluster_when_the_spec_or_the_command_asks(why: str) -> None:
    cluster = ClusterSpec(
        in_process_below=0 if why == "zero" else 2**30,
        address="tcp://scheduler:8786" if why == "address" else None,
        processes=why == "processes")
    backend = "cudf" if why == "cudf" else "pandas"
    address = "tcp://other:8786" if why == "cli-address" else None
    assert not runs_in_process(cluster, _plan(10), backend, address)


def test_the_key_takes_sizes_in_the_specs_words(tmp_path: Path) -> None:
    assert ClusterSpec(in_process_below="64MiB").in_process_below == 64 * 2**20
    with pytest.raises(ValueError, match="in_process_below"):
        ClusterSpec(in_process_below=-1)


def test_threads_are_the_cores_unless_the_spec_counts_them() -> None:
    assert thread_count(ClusterSpec()) == CPU_COUNT
    assert thread_count(ClusterSpec(workers=3)) == CPU_COUNT  # a cluster spreads the cores
    assert thread_count(ClusterSpec(threads_per_worker=2)) == 2
    assert thread_count(ClusterSpec(workers=2, threads_per_worker=3)) == 6
    assert thread_count(ClusterSpec(workers=2, threads_per_worker=3), workers=1) == 3


def test_progress_counts_the_first_collections_partitions_once_each() -> None:
    frame = dd.from_pandas(pd.DataFrame({"a": range(100)}), npartitions=7)
    calls: list[tuple[int, int]] = []
    with in_process.in_process(_plan(10), threads=2):  # never a client this process has
        whole, total = compute([frame, frame.a.sum()], lambda *call: calls.append(call))
        assert compute([frame], None)[0]["a"].tolist() == list(range(100))
    assert whole["a"].tolist() == list(range(100)) and total == sum(range(100))
    assert calls == [(n, 7) for n in range(8)]
