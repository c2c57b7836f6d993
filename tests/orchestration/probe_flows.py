"""Flows that report on the process they run in, served by ``serve()`` with assay's forked
flow runs (``test_forked_runs`` runs it as a child process against a real Prefect server).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from prefect import flow
from prefect.runner import Runner

from assay.flows.forked_runs import forked_flow_runs, start_forkserver

LATE_VARIABLE = "ASSAY_PROBE_SET_AFTER_THE_FORKSERVER_STARTED"


@flow(name="probe")
def probe(out: str) -> None:
    """Write to ``out`` what this flow run's process sees."""
    Path(out).write_text(json.dumps({
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "preloaded": "assay.flows.ingest" in sys.modules,  # this flow never imports it
        "environ": {key: value for key, value in os.environ.items()
                    if key.startswith(("ASSAY_PROBE", "PREFECT__"))},
    }))


@flow(name="sleeper")
def sleeper(out: str, seconds: float) -> None:
    """Write this process's pid to ``out``, then sleep (to be cancelled or killed)."""
    Path(out).write_text(str(os.getpid()))
    time.sleep(seconds)


def serve() -> None:
    """Serve both flows (deployments ``probe/probe`` and ``sleeper/sleeper``); a variable set
    after the forkserver started must still reach the runs."""
    start_forkserver()
    os.environ[LATE_VARIABLE] = "seen"
    runner = Runner(query_seconds=0.5, limit=4, pause_on_shutdown=False)
    runner.add_flow(probe, name="probe")
    runner.add_flow(sleeper, name="sleeper")
    with forked_flow_runs():
        asyncio.run(runner.start())
