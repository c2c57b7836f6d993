"""Canaries on what assay takes from libraries beyond their documented API: internals it
reaches into and behaviours it relies on that a library may change in a release without
notice. Each checks the real library (a real Dask worker, a real failing task, pyarrow and
the codecs on real bytes) and says which assay code depends on it and what to do when it
fails after an upgrade. They are small on purpose: a failure here should point at one line.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, Future, LocalCluster, futures_of

from assay.pipelines.errors import TransientStorageError, storage_errors
from assay.pipelines.workers import PROFILER, ForgetFinishedTasks


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One in-process worker: its state is inspectable with ``client.run``."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def _task_state(dask_worker: Any, key: str) -> tuple[str, bool]:
    task = dask_worker.state.tasks[key]
    return task.state, task.run_spec is not None


def test_a_finished_task_keeps_its_run_spec_until_forget_finished_tasks_drops_it() -> None:
    """``pipelines/workers.py`` ``ForgetFinishedTasks`` sets ``TaskState.run_spec`` (reached
    through ``worker.state.tasks``) to None when a task reaches "memory". If this fails,
    distributed renamed the attribute, stopped keeping the spec of a finished task (then
    drop the plugin), or changed the plugin's ``transition`` hook: adapt the plugin."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        kept = client.submit(sum, [1, 2], key="canary-kept")
        assert kept.result() == 3
        assert list(client.run(_task_state, key="canary-kept").values()) == [("memory", True)]

        client.register_plugin(ForgetFinishedTasks())
        dropped = client.submit(sum, [3, 4], key="canary-dropped")
        assert dropped.result() == 7
        assert list(client.run(_task_state, key="canary-dropped").values()) == [
            ("memory", False)]
        assert dropped.result() == 7  # the result itself stays


def test_a_dask_expr_partitions_key_is_name_and_index(client: Client) -> None:
    """``pipelines/runner.py`` ``_compute`` sorts a persisted frame's futures by ``key[1]``
    to put the partitions back in order, and cancels them with ``Future(key, client)``. If
    this fails, dask-expr changed its key shape: sort by what now gives the partition."""
    frame = dd.from_pandas(pd.DataFrame({"a": range(12)}), npartitions=4)
    (persisted,) = client.persist([frame.map_partitions(lambda part: part * 2)])
    futures = futures_of(persisted)
    keys = [future.key for future in futures]
    assert all(isinstance(k, tuple) and len(k) == 2 and isinstance(k[1], int) for k in keys)
    assert len({k[0] for k in keys}) == 1
    in_order = sorted(keys, key=lambda key: key[1])
    assert [k[1] for k in in_order] == list(range(4))
    parts = dict(zip(keys, client.gather(futures), strict=True))
    assert pd.concat([parts[k] for k in in_order])["a"].tolist() == list(range(0, 24, 2))

    client.cancel([Future(key, client) for key in keys], force=True)
    assert all(future.status == "cancelled" for future in futures)


def test_a_failed_task_is_logged_as_compute_failed(client: Client) -> None:
    """``flows/cli.py`` ``_HideRunFailures`` hides a worker's ERROR record from
    ``distributed.worker`` whose message starts with "Compute Failed" (the CLI prints the
    failure in one line itself). If this fails, distributed reworded or moved that log:
    match the new text, or the new logger's name."""
    from assay.flows.cli import _HideRunFailures

    records: list[logging.LogRecord] = []
    catcher = logging.Handler(logging.ERROR)
    catcher.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("distributed.worker")
    logger.addHandler(catcher)
    try:
        with pytest.raises(ZeroDivisionError):
            client.submit(lambda: 1 / 0, key="canary-fails").result()
    finally:
        logger.removeHandler(catcher)
    failed = [r for r in records if "canary-fails" in r.getMessage()]
    assert failed, [r.getMessage() for r in records]
    assert all(str(r.msg).startswith("Compute Failed") for r in failed)
    assert not any(_HideRunFailures().filter(r) for r in failed)


def test_a_dask_collection_has_its_meta() -> None:
    """The engine builds every ``map_partitions`` on ``frame._meta`` (``pipelines/graph.py``,
    ``gates.py``, ``runner.py``, ``transforms/dedup.py``, ``validation/boundaries.py``):
    an empty partition of the collection's type. If this fails, dask-expr renamed it: use
    its replacement (``dask.dataframe.utils.meta_nonempty`` works on the public ``meta``)."""
    source = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame = dd.from_pandas(source, npartitions=2)
    meta = frame._meta
    assert isinstance(meta, pd.DataFrame) and len(meta) == 0
    assert meta.dtypes.to_dict() == frame.dtypes.to_dict()
    doubled = frame.map_partitions(lambda part: part.assign(a=part.a * 2), meta=frame._meta)
    assert doubled.compute()["a"].tolist() == [2, 4]


def test_the_worker_settings_assay_passes_are_dask_config_keys() -> None:
    """``pipelines/workers.py`` turns off the profiler and sets the nanny's
    ``pre-spawn-environ`` through ``dask.config``, which takes an unknown key silently. If
    this fails, distributed renamed a key: use the new name there."""
    assert dask.config.get(PROFILER) in (True, False)
    assert isinstance(dask.config.get("distributed.nanny.pre-spawn-environ"), dict)


def test_pandas_keeps_its_dtype_classes_where_ge_looks_type_names_up() -> None:
    """``validation/expectations/column_map_more.py`` resolves a type name as GE 1.24 does,
    in ``pandas.core.dtypes.dtypes`` (private to pandas). If this fails, pandas moved the
    module: see where GE looks now and follow it in ``_dtypes_module``."""
    from pandas.core.dtypes import dtypes

    for name in ("DatetimeTZDtype", "CategoricalDtype", "PeriodDtype", "IntervalDtype"):
        assert isinstance(getattr(dtypes, name), type), name


class _FailingFile(io.BytesIO):
    """A whole Parquet file whose reads fail."""

    def __init__(self, error: BaseException):
        written = io.BytesIO()
        pq.write_table(pa.table({"a": [1, 2]}), written)
        super().__init__(written.getvalue())
        self.error = error

    def read(self, size: int | None = -1) -> bytes:
        raise self.error

    def readinto(self, buffer: Any) -> int:
        raise self.error


def test_pyarrow_reraises_the_python_files_own_exception() -> None:
    """``pipelines/sources/parquet_reader.py`` takes an OSError from pyarrow for a corrupt
    file, and relies on a storage failure under it (our StorageError, raised by the file
    pyarrow reads) coming back as that very exception, not wrapped in an ArrowException.
    If this fails, unwrap pyarrow's new error to find the StorageError again."""
    error = TransientStorageError("s3://b/a.parquet: read failed (reset)")
    with pytest.raises(TransientStorageError) as caught:
        pq.ParquetFile(_FailingFile(error))
    assert caught.value is error


def _cut_streams() -> Iterator[tuple[str, bytes]]:
    """Per codec assay reads: a stream cut in half, and bytes that are not that codec."""
    from fsspec.compression import compr

    from assay.pipelines.sources.discover import COMPRESSIONS

    payload = b"".join(b"%d,%d\n" % (i, i * 7919 % 10007) for i in range(20_000))
    for codec in sorted(set(COMPRESSIONS.values())):
        writer = io.BytesIO()
        with compr[codec](writer, mode="wb") as stream:
            stream.write(payload)
        whole = writer.getvalue()
        yield codec, whole[: len(whole) // 2]
        yield codec, b"plain text, not compressed\n" * 100


@pytest.mark.parametrize(("codec", "data"), list(_cut_streams()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_each_codec_refuses_bad_bytes_with_an_error_assay_names(codec: str, data: bytes
                                                                ) -> None:
    """``pipelines/sources/storage.py`` ``DECOMPRESSION_ERRORS`` lists what the codecs fsspec
    registers raise on bytes they refuse; only those reject an upload. If this fails, a
    codec (or fsspec's choice of module) raises a new type: add it there, with a test."""
    from fsspec.compression import compr

    from assay.pipelines.sources.storage import DECOMPRESSION_ERRORS

    with pytest.raises(DECOMPRESSION_ERRORS):
        compr[codec](io.BytesIO(data), mode="rb").read()


def test_what_s3fs_raises_after_its_retries_is_a_storage_error() -> None:
    """s3fs re-raises the errors it retries untranslated once its retries are spent (the
    rest become OSError); ``pipelines/errors.py`` ``storage_errors`` must catch each, or a
    dropped connection to S3 would be an internal failure. If this fails, add the base
    class of the new one to ``_LIBRARY_STORAGE_ERRORS``."""
    s3fs_core = pytest.importorskip("s3fs.core")
    caught = storage_errors()
    missing = [e for e in s3fs_core.S3_RETRYABLE_ERRORS if not issubclass(e, caught)]
    assert not missing


def test_prefects_health_check_hands_back_an_error_intake_takes_as_unreachable() -> None:
    """``flows/intake.py`` ``emit_received`` reads ``api_healthcheck()``'s return value (the
    error, not raised) and keeps the upload pending on the errors in ``_UNREACHABLE``. If
    this fails, Prefect raises now or returns another type: follow it there."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from assay.flows.intake import _UNREACHABLE

    async def check() -> Exception | None:
        async with get_client() as prefect:
            return await prefect.api_healthcheck()

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        failure = asyncio.run(check())
    assert isinstance(failure, _UNREACHABLE), repr(failure)


def test_prefects_console_handler_is_on_the_root_logger() -> None:
    """``flows/cli.py`` ``_quiet_console`` filters run failures out of the console by finding
    Prefect's ``PrefectConsoleHandler`` among the root logger's handlers. If this fails,
    Prefect moved its console handler: find it where it is now."""
    code = ("import logging\n"
            "from prefect import flow  # as flows/ingest.py: Prefect sets up logging here\n"
            "from prefect.logging.handlers import PrefectConsoleHandler\n"
            "print(any(isinstance(h, PrefectConsoleHandler) "
            "for h in logging.getLogger().handlers))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "True", done.stderr


_SPILL = """
import cudf
from assay.transforms.frame import spilled_bytes
from cudf.core.buffer.spill_manager import get_global_manager

frame = cudf.DataFrame({"a": list(range(100_000))})
spilled = get_global_manager().spill_to_device_limit(0)
print(spilled, spilled_bytes())
"""


@pytest.mark.gpu
def test_cudf_counts_what_it_spilled_where_spilled_bytes_reads_it() -> None:
    """``transforms/frame.py`` ``spilled_bytes`` reads cuDF's private spill manager
    (``get_global_manager().statistics.spill_totals``, ``{("gpu", "cpu"): (bytes, s)}``)
    and returns None on any surprise, so a change would only silence the spill report.
    If this fails, cuDF moved the statistics: read them where they are now."""
    from assay.pipelines.backend import gpu_stack_problem, visible_gpus

    problem = "no GPU is visible" if not visible_gpus() else gpu_stack_problem()
    if problem:
        pytest.skip(f"needs cuDF on a GPU: {problem}")
    env = {**os.environ, "CUDF_SPILL": "on", "CUDF_SPILL_STATS": "1"}
    done = subprocess.run([sys.executable, "-c", _SPILL], capture_output=True, text=True,
                          timeout=300, env=env, check=True)
    spilled, counted = done.stdout.split()
    assert int(spilled) > 0 and counted == spilled, done.stdout + done.stderr

