"""The Prefect server a command talks to: a local one as a child process, for ``assay
serve`` (and the tests), or the one ``assay run`` reports to.

Prefect's ephemeral mode runs no scheduler and no automations, so schedules and upload
triggers need a real ``prefect server start``. Its SQLite database and home live under the
data directory; it listens on loopback, and it is stopped when the block exits. A server
that does not start or answer is ``ServerUnavailable``: one line, not a bug report.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assay.pipelines.errors import Unavailable


class ServerUnavailable(Unavailable):
    """A Prefect server did not start or does not answer; the message says which, and
    where to look."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(api_url: str) -> bool:
    # a plain http:// URL has no TLS to verify: building the CA context for it anyway cost
    # about 0.09 s of every run's check; an https:// one is verified
    import httpx  # here: a run recorded through the REST API needs only this module's errors

    verify = not api_url.startswith("http://")
    try:
        return httpx.get(f"{api_url}/health", timeout=2, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def local_server(data_dir: Path, port: int | None = None, timeout: float = 120,
                 env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``prefect server start`` with its home at ``<data_dir>/prefect``, wait until it
    answers, yield its API URL, stop it at exit. ``env`` adds server settings."""
    home = data_dir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    child_env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    child_env.update({"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                      "PREFECT_SERVER_UI_ENABLED": "false", **(env or {})})
    log_path = home / "server.log"
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(api_url):
            if child.poll() is not None or time.monotonic() > deadline:
                state = "exited" if child.poll() is not None else f"not up in {timeout:g} s"
                raise ServerUnavailable(f"the Prefect server did not start ({state}); "
                                        f"see {log_path}")
            time.sleep(0.25)
        yield api_url
    finally:
        stop(child)


def check_answers(api_url: str) -> None:
    """The server at ``PREFECT_API_URL`` answers, or ``ServerUnavailable`` says it does not."""
    if not _healthy(api_url):
        raise unanswered(api_url)


def unanswered(api_url: str) -> ServerUnavailable:
    return ServerUnavailable(f"no Prefect server answers at {api_url} (PREFECT_API_URL); "
                             "start it, or unset the variable to run without Prefect")


def check_run_server() -> None:
    """Make sure the Prefect API a flow run reports to answers before the run starts: the
    server at ``PREFECT_API_URL``, else Prefect's temporary one (ephemeral mode), started
    now, so that one failing to start is reported as what it is."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    )

    if api_url := PREFECT_API_URL.value():
        check_answers(api_url)
        return
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return  # Prefect itself says that a URL is needed
    import httpx
    from prefect.server.api.server import SubprocessASGIServer

    try:
        SubprocessASGIServer().start()  # the one the run's client then finds running
    # Prefect raises a bare RuntimeError when the server is not up in time (or no port is
    # free), and httpx's error when it answers with an error
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        raise ServerUnavailable(
            f"Prefect's temporary server did not start within {timeout} s "
            f"({type(exc).__name__}); retry, raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL to a "
            "running server") from exc


def stop(child: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it takes longer than ``timeout``."""
    child.terminate()
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
