"""``assay serve``'s flow runs fork from a preloaded forkserver (``flows/forked_runs.py``):
on a real Prefect server, through Prefect's own runner and starter, a run gets the runner's
current environment and its control channel, and the runner still cancels a run and sees a
killed one crash.

These are also the canary for the Prefect internal the module relies on: if the runner
stops looking ``run_flow_in_subprocess`` up in ``prefect.runner._starter_direct`` on each
start, the probe runs in a spawned child (its parent is the serving process, nothing is
preloaded) and the first test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from assay.flows.server import stop
from tests.orchestration.conftest import start_flow_run, wait_for
from tests.orchestration.probe_flows import LATE_VARIABLE

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probes(prefect_api: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[subprocess.Popen[bytes]]:
    """``probe_flows.serve()`` in a child process, once both deployments are registered."""
    log = tmp_path_factory.mktemp("probes") / "serve.log"
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", "from tests.orchestration.probe_flows import serve; serve()"],
            cwd=ROOT, env={**os.environ, "PREFECT_API_URL": prefect_api},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(_deployments(prefect_api)) == 2, 90, "the probe deployments",
                 lambda: log.read_text(errors="replace"))
        yield child
    finally:
        stop(child, timeout=30)


def _deployments(api: str) -> dict[str, str]:
    """The probe deployments' ids by name (none while the busy server answers 503)."""
    answer = httpx.post(f"{api}/deployments/filter", json={})
    found = answer.json() if answer.status_code == 200 else []
    return {d["name"]: d["id"] for d in found if d["name"] in ("probe", "sleeper")}


def _start(api: str, deployment: str, parameters: dict) -> str:
    deployment_id = wait_for(lambda: _deployments(api).get(deployment), 30,
                             f"deployment {deployment}")
    return start_flow_run(api, deployment_id, parameters, f"a run of {deployment} to start")


def _state(api: str, flow_run_id: str) -> str | None:
    """The run's state type; None while the busy SQLite server answers 503."""
    answer = httpx.get(f"{api}/flow_runs/{flow_run_id}")
    return answer.json()["state_type"] if answer.status_code == 200 else None


def _ended(api: str, flow_run_id: str) -> str | None:
    state = _state(api, flow_run_id)
    return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def test_a_flow_run_forks_from_the_preloaded_process_with_the_runners_environment(
        probes: subprocess.Popen[bytes], prefect_api: str, tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    run = _start(prefect_api, "probe", {"out": str(out)})
    assert wait_for(lambda: _ended(prefect_api, run), 60, "the probe run") == "COMPLETED"

    seen = json.loads(out.read_text())
    parent = psutil.Process(seen["ppid"])
    assert seen["ppid"] != probes.pid, "spawned by the runner, not forked"
    assert "multiprocessing.forkserver" in " ".join(parent.cmdline())
    assert parent.ppid() == probes.pid
    assert seen["preloaded"]
    environ = seen["environ"]
    assert environ.get(LATE_VARIABLE) == "seen"  # the runner's environment now
    assert environ.get("PREFECT__DEPLOYMENT_NAME") == "probe"  # the starter's own variables
    assert environ.get("PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS") == "false"
    assert "PREFECT__CONTROL_PORT" not in environ  # consumed by Prefect's control listener


def _sleeping(api: str, tmp_path: Path) -> tuple[str, int]:
    """A sleeper run, once it runs: its id and its process's pid."""
    out = tmp_path / "sleeper.pid"
    run = _start(api, "sleeper", {"out": str(out), "seconds": 300})
    wait_for(lambda: out.exists() and out.read_text() and _state(api, run) == "RUNNING", 60,
             "the sleeper to run")
    return run, int(out.read_text())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cancelling_a_forked_flow_run_ends_its_process(
        probes: subprocess.Popen[bytes], prefect_api: str, tmp_path: Path) -> None:
    run, pid = _sleeping(prefect_api, tmp_path)
    wait_for(lambda: httpx.post(f"{prefect_api}/flow_runs/{run}/set_state",
                                json={"state": {"type": "CANCELLING"}, "force": True}
                                ).status_code in (200, 201), 30, "the server to take the cancel")
    assert wait_for(lambda: _ended(prefect_api, run), 60, "the cancellation") == "CANCELLED"
    assert wait_for(lambda: _gone(pid), 30, "the run's process to end")


def test_a_killed_forked_flow_run_is_marked_crashed(
        probes: subprocess.Popen[bytes], prefect_api: str, tmp_path: Path) -> None:
    run, pid = _sleeping(prefect_api, tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: _ended(prefect_api, run), 60, "the runner to see it") == "CRASHED"


def test_without_prefects_override_point_runs_start_fresh_with_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from prefect.runner import _starter_direct

    from assay.flows.forked_runs import forked_flow_runs

    monkeypatch.delattr(_starter_direct, "run_flow_in_subprocess")
    with forked_flow_runs() as forked:
        assert not forked
    assert "imports assay in a fresh process" in caplog.text
