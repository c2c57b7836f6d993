"""SIGKILL mid-run: the ``assay run`` process at each kill point, and one Dask worker
process. The table's last version stays as it was and readable (or, killed after the
commit, the new one is complete), the next run cleans up or finishes what the dead one left
and publishes shards byte-identical to an undisturbed run's."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

import assay
from assay.pipelines import killpoints
from assay.pipelines.lock import dataset_lock
from assay.pipelines.shuffle_folder import shuffle_folder
from assay.pipelines.spec import ClusterSpec, load_spec
from tests.fault_kit import (
    assert_nothing_left,
    assert_same_dataset,
    latest,
    write_spec,
    write_uploads,
)
from tests.published import leftovers

pytestmark = pytest.mark.slow
ASSAY = str(Path(sys.executable).parent / "assay")


def _start_run(folder: Path, sink: Path, pause: str | None = None) -> subprocess.Popen:
    """``assay run`` in its own process, reporting to the session's Prefect test server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    if pause:
        env[killpoints.VARIABLE] = pause
    return subprocess.Popen(
        [ASSAY, "run", str(folder / "pipeline.yaml"), "-i", str(folder / "uploads"),
         "-o", str(sink)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(run: subprocess.Popen) -> None:
    _, errors = run.communicate(timeout=300)
    assert run.returncode == 0, errors


def _wait_for(marker: Path, running: object) -> int:
    """The pid the kill point wrote once reached; fail if the run ended first."""
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert getattr(running, "poll", lambda: None)() is None, "the run ended unpaused"
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.05)
    return int(marker.read_text())


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """An undisturbed ``assay run``: the reference a recovered run must equal, and the
    previous version a killed run must leave in place."""
    folder = tmp_path_factory.mktemp("undisturbed")
    write_uploads(folder)
    write_spec(folder)
    _finish(_start_run(folder, folder / "out"))
    return folder


@pytest.mark.parametrize("point", killpoints.POINTS)
def test_assay_run_killed_at_a_point(point: str, undisturbed: Path, dask_client: Client,
                                     tmp_path: Path) -> None:
    reference = undisturbed / "out"
    sink = tmp_path / "out"
    shutil.copytree(reference, sink)  # version 0, published
    marker = tmp_path / "paused"

    killed = _start_run(undisturbed, sink, pause=f"{point}:{marker}")
    assert _wait_for(marker, killed) == killed.pid  # held at the point, in the run's process
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)

    committed = point == "committed"
    assert latest(sink) == (1 if committed else 0)
    assert_same_dataset(sink, 0, reference, 0)  # untouched, fully readable
    if committed:  # complete, though its quarantine is not committed yet
        assert_same_dataset(sink, 1, reference, 0, quarantine=False)
    assert leftovers(sink)  # the dead run's leftovers ...
    with dataset_lock(str(sink), Path(os.environ["ASSAY_DATA_DIR"]), timeout=1):
        pass  # ... but not its lock: the kernel released it

    # the next run (the engine on the session's cluster: quicker than another process)
    spec = load_spec(undisturbed / "pipeline.yaml")
    again = assay.run(spec, [str(undisturbed / "uploads")], str(sink), client=dask_client)
    assert again.version == (2 if committed else 1)
    assert_nothing_left(sink, again.version)
    assert_same_dataset(sink, again.version, reference, 0)
    if committed:  # the next run committed the dead one's quarantine, once
        assert_same_dataset(sink, 1, reference, 0)


@pytest.fixture(scope="module")
def process_workers() -> Iterator[Client]:
    """Two worker processes (their nanny restarts one that dies), p2p shuffle."""
    with dask.config.set({"dataframe.shuffle.method": "p2p"}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
        yield client
    workers = list(client.run(os.getpid).values())
    client.close()
    try:
        cluster.close()
    except TimeoutError:  # a loaded machine: a nanny gives its worker 5 s to exit
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _set_environment(name: str, value: str) -> None:
    os.environ[name] = value


@pytest.mark.parametrize("shuffle", ["p2p", "files"])
@pytest.mark.parametrize("point", ["read", "staging-write"])
def test_worker_killed_mid_run(point: str, shuffle: str, process_workers: Client,
                               undisturbed: Path, tmp_path: Path) -> None:
    """Killed while reading (before the dedup's shuffle has its inputs) or while the sink
    writes (after it). Through files, the inputs the dead worker held are computed again
    and rewrite their files with the same bytes."""
    client = process_workers
    marker = tmp_path / "paused"
    client.run(_set_environment, killpoints.VARIABLE, f"{point}:{marker}")
    spec = load_spec(undisturbed / "pipeline.yaml")
    sink = tmp_path / "out"

    with ThreadPoolExecutor(1) as pool, \
            shuffle_folder(client, ClusterSpec(shuffle=shuffle), "pandas", remote=True):
        run = pool.submit(assay.run, spec, [str(undisturbed / "uploads")], str(sink),
                          client=client)
        victim = _wait_for(marker, run)
        assert victim in client.run(os.getpid).values()  # a worker, holding a running task
        os.kill(victim, signal.SIGKILL)
        published = run.result(timeout=300)

    assert published.version == 0
    assert victim not in client.run(os.getpid).values()  # the work finished without it
    assert_nothing_left(sink, 0)
    assert_same_dataset(sink, 0, undisturbed / "out", 0)
