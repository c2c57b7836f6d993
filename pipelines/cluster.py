"""The Dask cluster a run uses: a LocalCluster it starts and stops, a LocalCUDACluster (one
worker process per visible GPU) for the cuDF backend, or an existing scheduler."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, LocalCluster

from assay.pipelines.backend import BackendUnavailable, visible_gpus
from assay.pipelines.in_process import arrow_system_pool
from assay.pipelines.shuffle_folder import shuffle_folder
from assay.pipelines.spec import ClusterSpec
from assay.pipelines.workers import PLUGINS, environment_as_started, local_cluster_config

log = logging.getLogger("assay.backend")


def cuda_cluster_kwargs(cluster: ClusterSpec, workers: int | None = None) -> dict[str, Any]:
    """``LocalCUDACluster`` arguments from the spec's ``cluster`` section (pure, so it is
    tested where dask-cuda is not installed). Unset keys are left out: Dask-CUDA's defaults
    (one worker per visible GPU, its device memory limit) apply. The spec's ``workers``
    counts CPU workers and does not apply; ``--workers`` picks how many GPUs to use."""
    kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": cluster.threads_per_worker or 1,
        "memory_limit": cluster.memory_limit,
        "CUDA_VISIBLE_DEVICES": cluster.cuda_visible_devices,
        "rmm_pool_size": None if cluster.rmm_async else cluster.rmm_pool_size,
        "rmm_async": cluster.rmm_async or None,
        "device_memory_limit": cluster.device_memory_limit,
        "enable_cudf_spill": cluster.enable_cudf_spill,
        "cudf_spill_stats": 1 if cluster.enable_cudf_spill else None,  # "was spilling hit?"
        "protocol": cluster.protocol,
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
    }
    return {key: value for key, value in kwargs.items() if value is not None}


def _require_ucx(cluster: ClusterSpec) -> None:
    if cluster.protocol == "ucx" and importlib.util.find_spec("distributed_ucxx") is None:
        raise BackendUnavailable("cluster.protocol: 'ucx' needs the distributed-ucxx package "
                                 "(pip install distributed-ucxx-cu12 or -cu13)")


def _require_gpus(workers: int | None) -> None:
    visible = len(visible_gpus())
    if workers and workers > visible:
        raise BackendUnavailable(f"--workers {workers}: the cuDF backend runs one worker per "
                                 f"GPU, and {visible} GPU(s) are visible")


def _run_config(cluster: ClusterSpec, remote: bool, backend: str) -> dict[str, str]:
    """Dask settings for the run: the shuffle method, and cuDF as Dask's dataframe backend
    (so Dask's own readers and ``from_*`` constructors make cuDF partitions). cuDF shuffles
    by tasks unless the spec says otherwise, as dask-cudf does: Dask's p2p shuffle moves
    partitions through Arrow tables on the host."""
    if backend == "cudf":
        method = "tasks" if cluster.shuffle == "auto" else cluster.shuffle
        return {"dataframe.shuffle.method": method, "dataframe.backend": "cudf"}
    return {"dataframe.shuffle.method": cluster.shuffle_method(remote=remote)}


def _register_plugins(client: Client) -> None:
    for plugin in PLUGINS:
        client.register_plugin(plugin())


@contextmanager
def dask_client(cluster: ClusterSpec, *, workers: int | None = None,
                address: str | None = None, backend: str = "pandas",
                heap_temporaries: bool = False) -> Iterator[Client]:
    """A connected client; a local cluster is torn down on exit, a remote one is left alone.

    ``workers`` and ``address`` (from the command line) override the spec; ``backend`` is a
    resolved backend name (``assay.pipelines.backend.resolve_backend``);
    ``heap_temporaries``: a step of the run declares it (``assay.pipelines.workers``).
    """
    address = address or cluster.address
    config = _run_config(cluster, bool(address), backend)
    if address:  # an existing scheduler: its workers bring their own GPUs (dask cuda worker)
        with dask.config.set(config), Client(address, timeout="30s") as client:
            _register_plugins(client)
            try:
                with client.as_current(), shuffle_folder(client, cluster, backend, remote=True):
                    yield client
            finally:  # the cluster is the user's: leave its workers as they were
                for plugin in PLUGINS:
                    client.unregister_worker_plugin(plugin.name)
        return
    with dask.config.set(config | local_cluster_config(backend, heap_temporaries)), \
            environment_as_started(), _thread_workers_pool(cluster.processes, backend), \
            _local_cluster(cluster, workers, backend) as local, Client(local) as client:
        _register_plugins(client)
        # what a step computes while planning goes to this cluster
        with client.as_current(), shuffle_folder(client, cluster, backend, remote=False):
            yield client
        if backend == "cudf":
            _report_spilling(client)


@contextmanager
def _thread_workers_pool(processes: bool, backend: str) -> Iterator[None]:
    """Workers that are threads of this process allocate from pyarrow's system pool
    (``in_process.arrow_system_pool``); processes and cuDF's workers keep their own."""
    if processes or backend == "cudf":
        yield
        return
    with arrow_system_pool():
        yield


def _report_spilling(client: Client) -> None:
    """One line saying whether cuDF spilled to host: a run that spills is much slower, and
    the fix (a bigger ``rmm_pool_size``, more GPUs, smaller blocks) is the user's."""
    try:
        counts = [n for n in client.run(spilled_bytes).values() if n is not None]
    except Exception as exc:  # diagnostics only: never fail a finished run over them
        log.info("cuDF spilling: statistics not read (%s)", exc)
        return
    if not counts:
        log.info("cuDF spilling: no statistics (enable_cudf_spill is off)")
    elif sum(counts):
        log.warning("cuDF spilled %d bytes from device to host during the run", sum(counts))
    else:
        log.info("cuDF spilling: none")


def spilled_bytes() -> int | None:
    """Bytes cuDF spilled from device to host in this process (a worker), or None where
    cuDF or its spill manager (``enable_cudf_spill``) is absent. Run on each worker by
    ``_report_spilling``; the statistics count only with ``cudf_spill_stats`` set, as
    ``cuda_cluster_kwargs`` sets it."""
    try:
        from cudf.core.buffer.spill_manager import get_global_manager

        manager = get_global_manager()
        if manager is None:  # spilling off
            return None
        totals = manager.statistics.spill_totals
    except (ImportError, AttributeError):  # no cuDF, or a changed private API
        return None
    return int(sum(nbytes for (src, dst), (nbytes, _) in totals.items()
                   if (src, dst) == ("gpu", "cpu")))


def _local_cluster(cluster: ClusterSpec, workers: int | None, backend: str) -> LocalCluster:
    """Started inside the run's config, which process workers inherit."""
    if backend == "cudf":
        _require_ucx(cluster)
        _require_gpus(workers)
        from dask_cuda import LocalCUDACluster

        return LocalCUDACluster(**cuda_cluster_kwargs(cluster, workers))
    return LocalCluster(
        n_workers=workers or cluster.workers,
        threads_per_worker=cluster.threads_per_worker,
        memory_limit=cluster.memory_limit,
        processes=cluster.processes,
        dashboard_address=":0",  # a free port: never collides with another cluster
        silence_logs=logging.ERROR,
    )
