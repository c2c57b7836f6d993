"""Which runs skip the cluster (``assay.pipelines.in_process``): small ones that name no
scheduler, want no worker processes and run on pandas. That their output is a cluster
run's, byte for byte, is ``test_determinism``'s."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.pipelines.in_process import runs_in_process
from assay.pipelines.spec import ClusterSpec


@dataclass
class _Found:
    size: int


@dataclass
class _Upload:
    found: _Found


@dataclass
class _Plan:
    inputs: list[_Upload]
    run_id: str = "r"


def _plan(*sizes: int) -> _Plan:
    return _Plan([_Upload(_Found(size)) for size in sizes])


def test_uploads_below_the_threshold_together_run_in_process() -> None:
    cluster = ClusterSpec()
    assert cluster.in_process_below == 4 * 2**20
    assert runs_in_process(cluster, _plan(10, 2**20), "pandas", None)
    assert not runs_in_process(cluster, _plan(3 * 2**20, 2**20), "pandas", None)


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
