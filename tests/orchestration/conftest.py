"""A real ``prefect server start`` on loopback for the orchestration tests: one per xdist
worker (it starts in a few seconds), with its own PREFECT_HOME and SQLite database, stopped
at the end of the session. ``assay serve`` runs as a child process against it
(``serving``)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assay.flows.api import create_app
from assay.flows.server import stop
from assay.pipelines.registry import load_pipelines
from tests.flows.conftest import TINY_CSV, write_tiny_pipeline

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASSAY = str(Path(sys.executable).parent / "assay")


def wait_for(check: Callable[[], Any], timeout: float, what: str,
             explain: Callable[[], str] | None = None) -> Any:
    """``check()``'s first true result; on timeout an error that says what was awaited and,
    with ``explain``, the state that shows why (a served run's ledger rows and log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    why = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{why}")


def feed_fifo(fifo: Path, text: str) -> bool:
    """Write ``text`` to a FIFO a run is reading, and close it (the run's read ends); False,
    without waiting, where no process has it open to read any more."""
    try:
        handle = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader
            return False
        raise
    with os.fdopen(handle, "w") as writer:
        writer.write(text)
    return True


def start_flow_run(api: str, deployment_id: str, parameters: dict, what: str) -> str:
    """Start a run of the deployment with ``parameters`` (as ``prefect deployment run
    --param`` does); its id. The busy SQLite server may answer 503: asked again."""
    def start() -> str | None:
        answer = httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run",
                            json={"parameters": parameters})
        return answer.json()["id"] if answer.status_code == 201 else None

    return wait_for(start, 30, what)


def add_pipeline(folder: Path, extra: str = "", name: str | None = None) -> str:
    """A tiny pipeline ``folder/<name>/pipeline.yaml`` reading ``<name>/incoming/`` (empty),
    with a 4 KiB upload limit and ``extra`` spec lines; returns its (unique) name."""
    name = name or f"p{uuid.uuid4().hex[:8]}"
    home = folder / name
    home.mkdir(parents=True)
    spec = write_tiny_pipeline(home, name=name)
    (home / "data.csv").unlink()
    (home / "incoming").mkdir()
    spec.write_text(spec.read_text().replace("paths: [data.csv]", "paths: [incoming/]")
                    + "intake: {max_bytes: 4096}\n" + extra)
    return name


def client_for(pipelines_dir: Path, data_dir: Path) -> TestClient:
    """The intake app over ``pipelines_dir``, TOKEN valid for every pipeline."""
    return TestClient(create_app(load_pipelines(pipelines_dir), data_dir, {"*": [TOKEN]}))


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API URL of a session-scoped Prefect server; this process's settings point at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from assay.flows.server import local_server

    with local_server(tmp_path_factory.mktemp("prefect-server")) as url, \
            temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


def _automations(api: str) -> set[str]:
    return {a["name"] for a in httpx.post(f"{api}/automations/filter", json={}).json()}


@contextmanager
def serving(pipelines: Path, api: str, poll: float = 0.5) -> Iterator[Path]:
    """Run ``assay serve pipelines --poll poll`` against ``api`` (data directory beside the
    folder) until the block ends (a trigger no flow run took is sent again after 20 s); wait
    until its triggers are registered; yield the data directory.
    Stopping it pauses its deployments, so their schedules stop too."""
    data_dir = pipelines.parent / "data"
    env = {**os.environ, "PREFECT_API_URL": api, "ASSAY_DATA_DIR": str(data_dir)}
    with open(pipelines.parent / "serve.log", "wb") as log:
        child = subprocess.Popen(
            [ASSAY, "serve", str(pipelines), "--poll", str(poll), "--limit", "4",
             "--redeliver-after", "20"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        names = {f"{name} uploads" for name in load_pipelines(pipelines)}
        wait_for(lambda: names <= _automations(api), 90, "the deployments' triggers")
        yield data_dir
    finally:
        stop(child, timeout=30)


__all__ = ["AUTH", "TINY_CSV", "add_pipeline", "client_for", "serving", "start_flow_run",
           "wait_for"]
