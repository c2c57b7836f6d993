"""A run whose input is more than 10x the memory given to the workers completes, with exact
deduplication across the whole input, on ``dask worker`` processes that must keep the data
on disk: everything a worker holds beyond its memory limit is spilled, and dedup's p2p
shuffle writes its buffers to disk.

A Python worker with pandas and pyarrow loaded needs ~200 MiB before it holds any data, so a
limit small enough for a quick test cannot also be a kill threshold: here the limit governs
Dask's spilling (managed data above it goes to disk) with the pause and the nanny's kill
switched off. ``benchmarks/run_out_of_core.py`` runs the same check with real limits (kill
on) on gigabytes, and measures peak RSS and spill.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from data_samples.generate import write_csv_files
from pipelines.publish import run_pipeline
from tests.dask_cli_cluster import CliCluster, dask_cli_cluster

WORKERS, MEMORY_LIMIT = 2, 2 * 2**20
ROWS, DISTINCT, FILES = 440_000, 160_000, 4
NO_PAUSE_NO_KILL = {"DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "False",
                    "DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE": "False"}


@pytest.fixture(scope="module")
def small_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliCluster]:
    with dask_cli_cluster(tmp_path_factory.mktemp("small-workers"), WORKERS,
                          str(MEMORY_LIMIT), NO_PAUSE_NO_KILL) as cluster:
        yield cluster


def _write_uploads(folder: Path) -> int:
    """ROWS rows of DISTINCT distinct records (a record is a function of its id), shuffled
    so copies of a record land in different files; returns the bytes written."""
    ids = np.random.default_rng(0).permutation(np.arange(ROWS) % DISTINCT)
    frame = pd.DataFrame({"id": ids, "user": [f"user-{i % 977}" for i in ids],
                          "text": [f"record {i} " + "lorem ipsum dolor sit amet " * 3
                                   for i in ids]})
    return sum(p.stat().st_size for p in write_csv_files(frame, folder, n_files=FILES))


def test_ten_times_worker_memory_with_exact_dedup(make_spec, tmp_path: Path,
                                                  small_workers: CliCluster):
    input_bytes = _write_uploads(tmp_path / "uploads")
    assert input_bytes >= 10 * WORKERS * MEMORY_LIMIT
    pids = small_workers.worker_pids()
    spec = make_spec(
        source={"paths": [f"file://{tmp_path}/uploads/*.csv"], "block_size": "1MiB"},
        schema={"columns": [{"name": "id", "type": "int64"}, {"name": "user"},
                            {"name": "text"}]},
        steps=[{"op": "dedup", "partition_bytes": "1MiB"}],
        sink={"path": str(tmp_path / "out"), "target_shard_bytes": "1MiB"},
        cluster={"address": small_workers.address})

    version = run_pipeline(spec)

    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == ROWS
    assert accounting["dropped_by_step"] == {"dedup": ROWS - DISTINCT}
    ids = np.concatenate([pq.read_table(Path(version.path) / s["path"], columns=["id"])
                          ["id"].to_numpy() for s in version.manifest["shards"]])
    assert np.array_equal(np.sort(ids), np.arange(DISTINCT))  # every record once
    written = small_workers.disk_writes()
    assert written["spilled"] > 0 and written["p2p"] > 0
    assert small_workers.worker_pids() == pids  # no worker died or was restarted
