"""Runs larger than the workers' memory complete with exact deduplication across the whole
input, on ``dask worker`` processes that must keep the data on disk.

Two clusters, because one limit cannot serve both checks in a test's time:

- As deployed: Dask's pause (80%) and the nanny's kill (95%) on, the worker environment
  assay documents (``assay.pipelines.workers``), a limit a little above what the libraries take
  (a worker holds ~180 MiB before any data), so the workers spill and the shuffle goes
  through disk. No worker may be killed or stall paused. The input is far below 10x that
  limit: 10x of 2 x 352 MiB is 7 GiB, minutes of work on 2 cores, a benchmark's size
  (``benchmarks/run_out_of_core.py`` ran 10x this way; figures in RESULTS.md).
- 10x the limit: a 2 MiB limit, below the libraries' own memory, so it can only drive
  spilling (pause and kill off): everything a worker holds is spilled.

Each runs with both of the dedup's shuffles for workers on other processes: through files
(``auto`` here: the workers share this machine's disk) and Dask's p2p, which writes its
buffers to disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import assay
from assay.pipelines.workers import worker_environment
from data_samples.generate import write_csv_files
from tests.dask_cli_cluster import CliCluster, dask_cli_cluster

WORKERS, SPILL_ONLY_LIMIT, DEPLOYED_LIMIT = 2, 2 * 2**20, 352 * 2**20
ROWS, DISTINCT, FILES = 440_000, 160_000, 4
RUN_TIMEOUT_S = 240  # a worker paused for good would hang the run
SMALL_P2P = {"DASK_DISTRIBUTED__P2P__COMM__BUFFER": "16MiB",
             "DASK_DISTRIBUTED__P2P__STORAGE__BUFFER": "16MiB"}
NO_PAUSE_NO_KILL = {"DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "False",
                    "DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE": "False"}


@pytest.fixture(scope="module")
def spill_only_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliCluster]:
    with dask_cli_cluster(tmp_path_factory.mktemp("spill-only"), WORKERS,
                          str(SPILL_ONLY_LIMIT), NO_PAUSE_NO_KILL) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def deployed_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliCluster]:
    with dask_cli_cluster(tmp_path_factory.mktemp("deployed"), WORKERS, str(DEPLOYED_LIMIT),
                          SMALL_P2P | worker_environment()) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """ROWS rows of DISTINCT distinct records (a record is a function of its id), shuffled
    so copies of a record land in different files; the folder and the bytes written."""
    folder = tmp_path_factory.mktemp("uploads")
    ids = np.random.default_rng(0).permutation(np.arange(ROWS) % DISTINCT)
    frame = pd.DataFrame({"id": ids, "user": [f"user-{i % 977}" for i in ids],
                          "text": [f"record {i} " + "lorem ipsum dolor sit amet " * 3
                                   for i in ids]})
    written = write_csv_files(frame, folder, n_files=FILES)
    return folder, sum(p.stat().st_size for p in written)


def _run_and_check(make_spec, uploads: tuple[Path, int], out: Path, cluster: CliCluster,
                   shuffle: str, backend_log: list[str]) -> None:
    """Run the dedup job on ``cluster``; every record must come out once, no worker die,
    and the shuffle go through disk the way ``shuffle`` says."""
    pids = cluster.worker_pids()
    p2p_before = cluster.disk_writes()["p2p"]
    spec = make_spec(
        source={"paths": [f"file://{uploads[0]}/*.csv"], "block_size": "1MiB"},
        schema={"columns": [{"name": "id", "type": "int64"}, {"name": "user"},
                            {"name": "text"}]},
        steps=[{"op": "dedup", "partition_bytes": "1MiB"}],
        sink={"path": str(out), "target_shard_bytes": "1MiB"},
        cluster={"address": cluster.address, "shuffle": shuffle})
    with ThreadPoolExecutor(1) as pool:
        version = pool.submit(assay.run, spec).result(timeout=RUN_TIMEOUT_S)

    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == ROWS
    assert accounting["dropped_by_step"] == {"dedup": ROWS - DISTINCT}
    ids = np.concatenate([pq.read_table(Path(version.path) / s["path"], columns=["id"])
                          ["id"].to_numpy() for s in version.manifest["shards"]])
    assert np.array_equal(np.sort(ids), np.arange(DISTINCT))  # every record once
    assert cluster.worker_pids() == pids  # no worker died or was restarted
    logs = "".join(p.read_text() for p in cluster.folder.glob("worker-*.log"))
    assert "exceeded" not in logs  # the nanny's memory kill
    through_p2p = cluster.disk_writes()["p2p"] > p2p_before
    through_files = any("shuffle through files" in m for m in backend_log)
    assert (through_files, through_p2p) == (shuffle == "files", shuffle == "p2p")


@pytest.mark.parametrize("shuffle", ["files", "p2p"])
def test_as_deployed_pause_and_kill_on(shuffle: str, make_spec, uploads, tmp_path: Path,
                                       deployed_workers: CliCluster, backend_log: list[str]):
    _run_and_check(make_spec, uploads, tmp_path / "out", deployed_workers, shuffle,
                   backend_log)


@pytest.mark.parametrize("shuffle", ["files", "p2p"])
def test_ten_times_worker_memory_with_exact_dedup(shuffle: str, make_spec, uploads,
                                                  tmp_path: Path,
                                                  spill_only_workers: CliCluster,
                                                  backend_log: list[str]):
    assert uploads[1] >= 10 * WORKERS * SPILL_ONLY_LIMIT
    _run_and_check(make_spec, uploads, tmp_path / "out", spill_only_workers, shuffle,
                   backend_log)
    assert spill_only_workers.disk_writes()["spilled"] > 0
