"""The workers assay starts get the settings that keep their own memory small
(``assay.pipelines.workers``), and the environment documented for ``dask worker`` says the same."""

from __future__ import annotations

import ctypes
import os
import time

import dask
import dask.dataframe as dd
import pandas as pd
import psutil
import pyarrow as pa
import pytest
from distributed import Client, LocalCluster
from distributed.system_monitor import SystemMonitor

from assay.pipelines import heap
from assay.pipelines.cluster import dask_client
from assay.pipelines.spec import ClusterSpec
from assay.pipelines.workers import (
    PLUGINS,
    PROFILER,
    TRIM_SHARE_OF_SPILL_LINE,
    ImportDaskLean,
    TrimHeapBeforeSpilling,
    local_cluster_config,
    trim_above,
    worker_environment,
)


def _settings(dask_worker) -> tuple[str, bool, int]:  # runs on each worker
    import pyarrow as pa

    return (pa.default_memory_pool().backend_name, "profile" in dask_worker.periodic_callbacks,
            dask.config.get("distributed.p2p.comm.concurrency"))


def _run_specs_held(dask_worker) -> list:  # runs on each worker
    return [ts.run_spec for ts in dask_worker.state.tasks.values() if ts.state == "memory"]


def test_process_workers_use_the_system_pool_no_profiler_and_few_p2p_messages(monkeypatch):
    # Dask's own default, not the tests' (conftest turns the profiler off for them)
    monkeypatch.delenv("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", raising=False)
    with dask.config.set({PROFILER: True}), \
            dask_client(ClusterSpec(workers=1, processes=True)) as client:
        assert list(client.run(_settings).values()) == [("system", False, 2)]
        held = client.persist(dask.delayed(sum)([1, 2, 3]))
        assert held.compute() == 6
        # a held result keeps no function or arguments on its worker (ForgetFinishedTasks)
        assert list(client.run(_run_specs_held).values()) == [[None]]


# asked with a builtin, which a worker unpickles without importing this module (and the
# dask.dataframe it imports)
_IMPORTED = "tuple(name in __import__('sys').modules for name in ('dask.dataframe', 'scipy'))"


def _imported(client: Client) -> list[tuple[bool, bool]]:
    return list(client.run(eval, _IMPORTED).values())


def _executing(client: Client) -> list[int]:
    """Tasks running on each worker, asked as ``_imported`` asks (a lambda travels by value)."""
    return list(client.run(lambda dask_worker: len(dask_worker.state.executing)).values())


def test_process_workers_import_dask_dataframe_without_scipy():
    """SciPy (18 MiB of a worker at rest) comes only with a step that asks for it."""
    with dask_client(ClusterSpec(workers=1, processes=True)) as client:
        assert _imported(client) == [(True, False)]
        frame = dd.from_pandas(pd.DataFrame({"a": [3, 1, 2]}), npartitions=2)
        assert int(frame.a.sum().compute()) == 6
        assert _imported(client) == [(True, False)]


def test_a_worker_running_a_task_is_left_to_import_as_it_would():
    """While SciPy is hidden, a task's own ``import scipy`` would fail: a worker that is
    running one is left alone."""
    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        busy = client.submit(time.sleep, 3, pure=False)
        while _executing(client) == [0]:
            time.sleep(0.05)
        client.register_plugin(ImportDaskLean())
        assert _imported(client) == [(False, False)]
        busy.result()


def _mmap_threshold(dask_worker) -> tuple[str | None, str | None]:  # runs on each worker
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("MALLOC_MMAP_THRESHOLD_")


def test_workers_keep_arrays_in_the_heap_and_text_steps_larger_ones():
    """The nanny's trim setting turns every allocation of 128 KiB or more into an mmap:
    every worker keeps those up to 4 MiB in the heap, a run with text steps
    (``heap_temporaries``) those up to 16 MiB, which its kernels' arrays need."""
    from assay.transforms.base import registered_steps

    text_steps = {op for op, step in registered_steps().items() if step.heap_temporaries}
    assert {"gopher_quality", "language_id", "pii", "near_dedup", "decontaminate"} <= text_steps
    assert "dedup" not in text_steps
    # in both orders: Dask's nanny writes its settings into this process's environment,
    # where the next cluster's nanny would read them first
    for temporaries, expected in ((False, str(4 << 20)), (True, str(16 << 20)),
                                  (False, str(4 << 20))):
        with dask_client(ClusterSpec(workers=1, processes=True),
                         heap_temporaries=temporaries) as client:
            (trim, threshold), = client.run(_mmap_threshold).values()
            assert trim is not None and threshold == expected
        assert "MALLOC_MMAP_THRESHOLD_" not in os.environ  # taken back after the cluster


def test_thread_workers_use_the_system_pool_for_the_run_only():
    import pyarrow as pa

    before = pa.default_memory_pool().backend_name
    with dask_client(ClusterSpec(workers=1, processes=False)) as client:
        assert [pool for pool, _, _ in client.run(_settings).values()] == ["system"]
    assert pa.default_memory_pool().backend_name == before


def test_the_environment_for_dask_worker_sets_the_same():
    environ = worker_environment()
    config = dask.config.collect_env(environ)
    assert dask.config.get("distributed.worker.profile.enabled", config=config) is False
    assert dask.config.get("distributed.p2p.comm.concurrency", config=config) == 2
    assert {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in environ.items()
            if not k.startswith("DASK_")} == {k: v for k, v in local_cluster_config().items()
                                              if "pre-spawn" in k}


def test_cudf_workers_keep_their_allocators():
    assert local_cluster_config("cudf") == {"distributed.worker.profile.enabled": False}


def _plugins(dask_worker) -> list[str]:  # runs on each worker
    return sorted(dask_worker.plugins)


def test_a_joined_cluster_is_left_without_the_plugin(cli_cluster):
    with dask_client(ClusterSpec(), address=cli_cluster.address) as client:
        during = client.run(_plugins)
    with Client(cli_cluster.address) as client:
        after = client.run(_plugins)
    for plugin in PLUGINS:
        assert all(plugin.name in names for names in during.values())
        assert not any(plugin.name in names for names in after.values())


def _trim_line(dask_worker) -> int | None:  # runs on each worker
    plugin = dask_worker.plugins[TrimHeapBeforeSpilling.name]
    if plugin.callback is None:
        return None
    assert plugin.callback.is_running()
    return plugin.callback.callback.args[1]


def test_a_worker_with_a_memory_limit_trims_its_heap_short_of_the_spill_line():
    spec = ClusterSpec(workers=1, processes=True, memory_limit="400MiB")
    with dask_client(spec) as client:  # Dask's spill line: 0.7 of the limit
        line = int((400 << 20) * 0.7 * TRIM_SHARE_OF_SPILL_LINE)
        assert list(client.run(_trim_line).values()) == [line]


def test_a_worker_without_a_memory_limit_is_left_alone():
    with LocalCluster(n_workers=1, processes=False, memory_limit=0,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.register_plugin(TrimHeapBeforeSpilling())
        assert list(client.run(_trim_line).values()) == [None]


@pytest.mark.skipif(heap._glibc() is None, reason="malloc_trim is glibc's")
def test_free_heap_goes_back_only_above_the_line():
    """Free heap pages kept (freed buffers under ``heap.kept``'s thresholds) are given back
    once the process holds more than the line, and kept below it."""
    monitor, rss = SystemMonitor(), lambda: psutil.Process().memory_info().rss
    pinned = []
    with heap.kept():
        buffers = []
        for _ in range(48):  # 1 MiB buffers, each followed by a small one kept: the heap
            buffers.append(pa.allocate_buffer(1 << 20, memory_pool=pa.system_memory_pool()))
            ctypes.memset(buffers[-1].address, 1, 1 << 20)
            pinned.append(pa.allocate_buffer(64, memory_pool=pa.system_memory_pool()))
        del buffers  # cannot shrink past the small ones: 48 MiB free inside it
        held = rss()
        assert not trim_above(monitor, held + (256 << 20))
        assert rss() > held - (8 << 20)
        assert trim_above(monitor, held - (256 << 20))
        assert rss() < held - (32 << 20)
