"""A run joins an existing scheduler (``--cluster`` / ``cluster.address``) whose workers are
separate processes: the p2p shuffle, and output identical to the local in-process default."""

from __future__ import annotations

from distributed import LocalCluster

from pipelines.cluster import dask_client
from pipelines.publish import run_pipeline
from pipelines.spec import ClusterSpec

ROWS = "".join(f"{i % 900},u{i % 900 % 37},US,2024-01-0{1 + i % 9}T00:00:00Z,{i % 900}\n"
               for i in range(4000))
SCHEMA = {"columns": [{"name": "id", "type": "int64"}, {"name": "user"},
                      {"name": "country"}, {"name": "ts", "type": "timestamp"},
                      {"name": "amount", "type": "float64"}]}


def test_existing_scheduler_gives_the_same_dataset(make_spec, uploads):
    uploads("a.csv", ("id,user,country,ts,amount\n" + ROWS).encode())
    spec = make_spec(schema=SCHEMA, steps=[{"op": "dedup"}],
                     source={"paths": ["uploads"], "block_size": 30_000})
    with dask_client(ClusterSpec(workers=1)) as local:
        here = run_pipeline(spec, client=local)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as remote, \
            dask_client(ClusterSpec(), address=remote.scheduler_address) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        there = run_pipeline(spec, client=client)
    assert there.manifest["accounting"]["dropped_by_step"] == {"dedup": 4000 - 900}
    assert [s["sha256"] for s in there.manifest["shards"]] == \
        [s["sha256"] for s in here.manifest["shards"]]
