"""The Dask cluster a run uses: a LocalCluster it starts and stops, or an existing scheduler."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import dask
from distributed import Client, LocalCluster

from pipelines.spec import ClusterSpec


@contextmanager
def dask_client(cluster: ClusterSpec, *, workers: int | None = None,
                address: str | None = None) -> Iterator[Client]:
    """A connected client; a local cluster is torn down on exit, a remote one is left alone.

    ``workers`` and ``address`` (from the command line) override the spec.
    """
    address = address or cluster.address
    shuffle = {"dataframe.shuffle.method": cluster.shuffle_method(remote=bool(address))}
    if address:
        with dask.config.set(shuffle), Client(address, timeout="30s") as client:
            yield client
        return
    with dask.config.set(shuffle), LocalCluster(
        n_workers=workers or cluster.workers,
        threads_per_worker=cluster.threads_per_worker,
        memory_limit=cluster.memory_limit,
        processes=cluster.processes,
        dashboard_address=":0",  # a free port: never collides with another cluster
        silence_logs=logging.ERROR,
    ) as local, Client(local) as client:
        yield client
