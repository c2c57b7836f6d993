"""The workers assay starts get the settings that keep their own memory small
(``assay.pipelines.workers``), and the environment documented for ``dask worker`` says the same."""

from __future__ import annotations

import dask
from distributed import Client

from assay.pipelines.cluster import dask_client
from assay.pipelines.spec import ClusterSpec
from assay.pipelines.workers import (
    PROFILER,
    ForgetFinishedTasks,
    local_cluster_config,
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


def _mmap_threshold(dask_worker) -> tuple[str | None, str | None]:  # runs on each worker
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("MALLOC_MMAP_THRESHOLD_")


def test_only_a_run_with_text_steps_gives_workers_a_heap_for_temporaries():
    """The nanny's trim setting turns every allocation of 128 KiB or more into an mmap; text
    steps' kernels (``heap_temporaries``) need them kept in the heap, other runs keep the
    default, which spills less under a tight memory limit."""
    from assay.transforms.base import registered_steps

    text_steps = {op for op, step in registered_steps().items() if step.heap_temporaries}
    assert {"gopher_quality", "language_id", "pii", "near_dedup", "decontaminate"} <= text_steps
    assert "dedup" not in text_steps
    for heap, expected in ((False, None), (True, str(16 << 20))):
        with dask_client(ClusterSpec(workers=1, processes=True),
                         heap_temporaries=heap) as client:
            (trim, threshold), = client.run(_mmap_threshold).values()
            assert trim is not None and threshold == expected


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
    assert all(ForgetFinishedTasks.name in names for names in during.values())
    assert not any(ForgetFinishedTasks.name in names for names in after.values())
