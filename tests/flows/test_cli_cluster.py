"""``assay run --cluster tcp://host:port`` on a ``dask scheduler`` and two ``dask worker``
processes, with the uploads and the dataset given as ``file://`` URLs the workers open
themselves: the run publishes what an in-process run of the same spec publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.flows.cli import app
from assay.pipelines.cluster import dask_client
from assay.pipelines.spec import ClusterSpec
from tests.dask_cli_cluster import CliCluster
from tests.published import manifest_of

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "events"


def test_run_on_an_existing_cluster(prefect_harness: None, cli_cluster: CliCluster,
                                    tmp_path: Path) -> None:
    uploads = [f"file://{SAMPLE}/uploads/*.csv", f"file://{SAMPLE}/uploads/*.csv.gz"]
    output = tmp_path / "remote"
    result = CliRunner().invoke(
        app, ["run", str(SAMPLE / "pipeline.yaml"), "--cluster", cli_cluster.address,
              "-i", uploads[0], "-i", uploads[1], "-o", output.as_uri()], terminal_width=200)
    assert result.exit_code == 0, result.output
    manifest = manifest_of(output)
    expected = json.loads((SAMPLE / "expected.json").read_text())["accounting"]
    assert {k: manifest["accounting"][k] for k in expected} == expected

    with dask_client(ClusterSpec(workers=1)) as local:
        here = assay.run(SAMPLE / "pipeline.yaml", output=str(tmp_path / "local"),
                            client=local)
    assert [s["sha256"] for s in manifest["shards"]] == \
        [s["sha256"] for s in here.manifest["shards"]]
