"""A run joins an existing scheduler (``--cluster`` / ``cluster.address``): a ``dask
scheduler`` and two ``dask worker`` processes started on loopback (the session's
``cli_cluster``), with inputs and sink given as fsspec URLs the workers open themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable

import assay
from assay.pipelines.cluster import dask_client
from assay.pipelines.spec import ClusterSpec
from assay.pipelines.table import delta_options
from tests.dask_cli_cluster import CliCluster
from tests.moto_kit import moto_s3

ROWS = "".join(f"{i % 900},u{i % 900 % 37},US,2024-01-0{1 + i % 9}T00:00:00Z,{i % 900}\n"
               for i in range(4000))
CSV = ("id,user,country,ts,amount\n" + ROWS).encode()
SCHEMA = {"columns": [{"name": "id", "type": "int64"}, {"name": "user"},
                      {"name": "country"}, {"name": "ts", "type": "timestamp"},
                      {"name": "amount", "type": "float64"}]}


def _shards(version) -> list[str]:
    return [s["sha256"] for s in version.manifest["shards"]]


def test_existing_scheduler_gives_the_same_dataset(make_spec, uploads, tmp_path: Path,
                                                   cli_cluster: CliCluster,
                                                   backend_log: list[str]):
    uploads("a.csv", CSV)
    spec = make_spec(schema=SCHEMA, steps=[{"op": "dedup"}],
                     source={"paths": [(tmp_path / "uploads").as_uri()], "block_size": 30_000},
                     sink={"path": (tmp_path / "out").as_uri()})
    with dask_client(ClusterSpec(workers=1)) as local:
        here = assay.run(spec, output=str(tmp_path / "local"), client=local)
    p2p_before = cli_cluster.disk_writes()["p2p"]
    with dask_client(ClusterSpec(), address=cli_cluster.address) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        there = assay.run(spec, client=client)
    assert there.path.startswith("file://")
    assert there.manifest["accounting"]["dropped_by_step"] == {"dedup": 4000 - 900}
    assert _shards(there) == _shards(here)
    # its workers share this machine's disk: dedup shuffled through files, not p2p
    assert any("shuffle through files" in m for m in backend_log)
    assert cli_cluster.disk_writes()["p2p"] == p2p_before


def test_the_specs_cluster_address_is_joined(make_spec, uploads, tmp_path: Path,
                                             cli_cluster: CliCluster):
    uploads("a.csv", CSV)
    spec = make_spec(schema=SCHEMA, steps=[{"op": "dedup"}],
                     source={"paths": [f"file://{tmp_path}/uploads/*.csv"]},
                     sink={"path": (tmp_path / "out").as_uri()},
                     cluster={"address": cli_cluster.address, "shuffle": "p2p"})
    p2p_before = cli_cluster.disk_writes()["p2p"]
    version = assay.run(spec)  # no client given: the spec's address is joined
    assert version.manifest["rows"] == 900
    assert cli_cluster.disk_writes()["p2p"] > p2p_before
    assert len(cli_cluster.worker_pids()) == 2  # joined, not started: the workers remain


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict]:
    """moto's S3 server on loopback, reachable from the worker processes too."""
    with moto_s3() as endpoint, pytest.MonkeyPatch.context() as env:
        # credentials come from the environment, as a spec must take them
        env.setenv("ASSAY_TEST_S3_KEY", "testing")
        env.setenv("ASSAY_TEST_S3_SECRET", "testing")
        yield {"key": "${ENV:ASSAY_TEST_S3_KEY}", "secret": "${ENV:ASSAY_TEST_S3_SECRET}",
               "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}


def test_inputs_and_sink_in_an_object_store(make_spec, s3_options: dict,
                                            cli_cluster: CliCluster):
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options)
    fs.pipe("lake/uploads/a.csv", CSV)
    spec = make_spec(schema=SCHEMA, steps=[{"op": "dedup"}],
                     source={"paths": ["s3://lake/uploads/*.csv"], "block_size": 30_000,
                             "storage_options": s3_options},
                     sink={"path": "s3://lake/datasets/events", "storage_options": s3_options},
                     cluster={"address": cli_cluster.address})
    version = assay.run(spec)
    fs.invalidate_cache()
    assert version.version == 0 and version.manifest["rows"] == 900
    for shard in version.manifest["shards"]:
        assert fs.size(f"lake/datasets/events/{shard['path']}") == shard["bytes"]
    assert fs.find("lake/datasets/events/_assay/staging") == []  # nothing left behind
    table = DeltaTable("s3://lake/datasets/events",
                       storage_options=delta_options(spec.sink.storage_options))
    assert table.version() == 0 and table.to_pyarrow_table().num_rows == 900
    fs.pipe("lake/more/b.csv", CSV.replace(b"\n1", b"\n91"))
    again = assay.run(spec.model_copy(update={"sink": spec.sink.model_copy(
        update={"mode": "append"})}), inputs=["s3://lake/more/b.csv"])
    # the dedup's index lives beside the table in the store: b's rows equal to a's are gone
    added = again.manifest["rows_added"]
    assert again.version == 1 and again.manifest["rows"] == 900 + added and 0 < added < 900
