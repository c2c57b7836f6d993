"""What a run's tasks import on process workers: each import is memory every worker holds
before it holds any data (a 512 MiB worker spills at 358 MiB of process memory)."""

from __future__ import annotations

import sys
from pathlib import Path

from distributed import Client, LocalCluster

import assay

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _deltalake_loaded() -> bool:
    return "deltalake" in sys.modules


def test_process_workers_run_a_dedup_without_importing_deltalake(tmp_path: Path) -> None:
    """deltalake (16 MiB a process) belongs to the run's own process, which opens and
    commits the table; the workers only read and write Parquet."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        version = assay.run(SAMPLES / "events" / "pipeline.yaml", output=str(tmp_path / "out"),
                            client=client)
        loaded = client.run(_deltalake_loaded)
    assert version.manifest["accounting"]["dropped_by_step"].get("dedup"), version.manifest
    assert loaded and not any(loaded.values()), loaded
