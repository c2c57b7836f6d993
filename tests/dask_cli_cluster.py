"""A real Dask cluster started the way users start one: a ``dask scheduler`` process and
``dask worker`` processes (each a nanny and its worker) on loopback, found through a
scheduler file. Tests of ``--cluster`` / ``cluster.address`` and the out-of-core benchmark
run against it; unlike ``LocalCluster`` nothing is shared with the client's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from distributed import Client

START_TIMEOUT_S = 60


@dataclass
class CliCluster:
    address: str
    folder: Path  # scheduler file, logs, and each worker's local directory (spill, p2p)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of its worker process (the nanny's child)."""
        with Client(self.address, timeout="10s") as client:
            return client.run(os.getpid)

    def disk_writes(self) -> dict[str, int]:
        """Bytes the workers wrote to disk so far: ``spilled`` by their memory managers
        (managed data evicted under memory pressure) and ``p2p`` by the p2p shuffle's
        on-disk buffers, from the workers' cumulative metrics (``Worker.digests_total``)."""
        with Client(self.address, timeout="10s") as client:
            digests = client.run(_disk_write_bytes)
        return {kind: sum(d[kind] for d in digests.values()) for kind in ("spilled", "p2p")}


def _disk_write_bytes(dask_worker) -> dict[str, int]:  # runs on each worker
    totals = {"spilled": 0, "p2p": 0}
    for key, value in dask_worker.digests_total.items():
        if isinstance(key, tuple) and key[-2:] == ("disk-write", "bytes"):
            totals["p2p" if key[0] == "p2p" else "spilled"] += int(value)
    return totals


def _start(command: list[str], log: Path, env: dict[str, str], stack: ExitStack
           ) -> subprocess.Popen:
    handle = stack.enter_context(log.open("wb"))
    process = subprocess.Popen([sys.executable, "-m", "dask", *command], stdout=handle,
                               stderr=subprocess.STDOUT, env=env)
    stack.callback(_stop, process)
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not scheduler_file.exists():
        if scheduler.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dask scheduler did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    time.sleep(0.1)  # the file is written in one call; let it land
    return json.loads(scheduler_file.read_text())["address"]


@contextmanager
def dask_cli_cluster(folder: Path, workers: int = 2, memory_limit: str = "2GiB",
                     config: dict[str, str] | None = None) -> Iterator[CliCluster]:
    """Start the scheduler and ``workers`` one-thread workers; stop them all on exit.

    ``config`` is Dask configuration for every process as ``DASK_*`` environment variables
    (``{"DASK_DISTRIBUTED__WORKER__MEMORY__SPILL": "0.5"}``), as a deployment would set it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **(config or {})}
    scheduler_file = folder / "scheduler.json"
    with ExitStack() as stack:
        scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                            "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                           folder / "scheduler.log", env, stack)
        address = _scheduler_address(scheduler_file, scheduler, folder / "scheduler.log")
        for index in range(workers):
            _start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                    "--memory-limit", memory_limit, "--name", f"worker-{index}",
                    "--local-directory", str(folder / f"worker-{index}"), "--no-dashboard"],
                   folder / f"worker-{index}.log", env, stack)
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        yield CliCluster(address, folder)
