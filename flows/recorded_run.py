"""``assay run`` recorded as a Prefect flow run through Prefect's REST API.

Importing Prefect and its flow engine was about half of a small run against a server (1.5
of 2.7 s on two cores). What a user reads of a CLI run in Prefect takes a few requests
instead (10-20 ms each against a local server): the flow run of flow ``ingest``, named
``<pipeline>-<UTC time>``, created Running as the run starts and ended Completed, or Failed
with the error (Crashed when interrupted); the engine's phases as its task runs, named as
the flow's tasks; the run's log lines (sent with its end); the summary's markdown artifact
and a table artifact per gate, as the flow leaves them.

A recorded run also sends the flow-run heartbeats Prefect's engine sends (an event at the
start and every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds, 180 by default), so an
automation that marks runs without heartbeats as crashed sees a killed run alike. What
Prefect's engine adds and a recorded run has not: Prefect's own log lines, and retries as
Prefect's states (a phase's retries on transient storage failures are the engine's own,
as without Prefect, inside its task run).
``assay run --prefect`` runs the flow through Prefect's engine; so does a run whose server
refuses the first request (authentication, CSRF protection, an API this module does not
speak): ``Refused``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from assay.flows import artifacts
from assay.flows.prefect_api import PrefectServer
from assay.flows.server import ServerUnavailable, unanswered
from assay.pipelines import compose
from assay.pipelines.runner import ProgressCallback
from assay.pipelines.summary import RunSummary

_RETRIED_STATUS = frozenset({429, 502, 503, 504})  # a busy server (SQLite's 503) or a proxy
_TRIES = 3
LOGGER_NAME = "assay.run"


class Refused(Exception):
    """The server answered a request with an error (its status and detail)."""


class RestApi:
    """JSON requests to one Prefect server, with its client's headers and TLS settings."""

    def __init__(self, server: PrefectServer) -> None:
        self.server = server
        self._context = _tls_context(server) if server.url.startswith("https:") else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON (None when empty). A busy server is asked again; one that does
        not answer is ``ServerUnavailable``; an error answer, or a certificate that fails
        verification, ``Refused``."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **self.server.headers}
        attempt = 1
        while True:
            request = urllib.request.Request(self.server.url + path, data=data, method=method,
                                             headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.server.timeout,
                                            context=self._context) as answer:
                    text = answer.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRIED_STATUS or attempt == _TRIES:
                    raise Refused(f"{method} {path}: HTTP {exc.code} "
                                  f"{exc.read()[:300].decode(errors='replace')}") from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLError):  # Prefect's client says it its way
                    raise Refused(f"{method} {path}: TLS: {reason}") from exc
                if attempt == _TRIES or not isinstance(reason, ConnectionResetError):
                    raise unanswered(self.server.url) from exc
            time.sleep(0.5 * attempt)
            attempt += 1


def _tls_context(server: PrefectServer) -> ssl.SSLContext:
    """As Prefect's client verifies: a CA bundle named in its settings, else certifi's."""
    if server.verify is False:  # PREFECT_API_TLS_INSECURE_SKIP_VERIFY
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return context
    if isinstance(server.verify, str):
        return ssl.create_default_context(cafile=server.verify)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class RecordedRun:
    """One flow run, written as the run goes; also the run's ``ArtifactSink``."""

    def __init__(self, api: RestApi, flow_run_id: str) -> None:
        self.api, self.id = api, flow_run_id
        self._logs: list[dict[str, Any]] = []
        self._ended = threading.Event()

    @classmethod
    def start(cls, api: RestApi, name: str, parameters: dict[str, Any]) -> RecordedRun:
        """Create the flow run, Running (its flow is created too the first time), and start
        its heartbeats."""
        flow = api.call("POST", "/flows/", {"name": artifacts.FLOW_NAME})
        created = api.call("POST", "/flow_runs/", {
            "flow_id": flow["id"], "name": name, "parameters": parameters,
            "state": {"type": "RUNNING", "name": "Running"}})
        run = cls(api, created["id"])
        if api.server.heartbeat_seconds:
            threading.Thread(target=run._beat, args=(flow["id"], name), daemon=True,
                             name="flow-run-heartbeats").start()
        return run

    def _beat(self, flow_id: str, name: str) -> None:
        """As Prefect's engine: a heartbeat event now and every ``heartbeat_seconds``
        until the run ends; one the server refuses is skipped."""
        seconds = self.api.server.heartbeat_seconds or 0
        while True:
            with contextlib.suppress(Refused, ServerUnavailable):
                self.api.call("POST", "/events", [{
                    "id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(),
                    "event": "prefect.flow-run.heartbeat",
                    "resource": {"prefect.resource.id": f"prefect.flow-run.{self.id}",
                                 "prefect.resource.name": name},
                    "related": [{"prefect.resource.id": f"prefect.flow.{flow_id}",
                                 "prefect.resource.role": "flow",
                                 "prefect.resource.name": artifacts.FLOW_NAME}]}])
            if self._ended.wait(seconds):
                return

    def log(self, message: str, level: int = logging.INFO) -> None:
        """Kept with its time, and sent with the run's end (one request)."""
        self._logs.append({"name": LOGGER_NAME, "level": level, "message": message,
                           "timestamp": datetime.now(UTC).isoformat(), "flow_run_id": self.id})

    def markdown(self, key: str, markdown: str, description: str) -> None:
        self._artifact(key, "markdown", markdown, description)

    def table(self, key: str, rows: list[dict[str, Any]], description: str) -> None:
        self._artifact(key, "table", json.dumps(_without_nan(rows)), description)

    def warn(self, message: str) -> None:
        print(f"note: {message}", file=sys.stderr, flush=True)
        self.log(message, logging.WARNING)

    def end(self, state_type: str, message: str | None = None) -> None:
        """Stop the heartbeats, send the logs, then the final state."""
        self._ended.set()
        if self._logs and self.api.server.send_logs:
            self.api.call("POST", "/logs/", self._logs)
            self._logs = []
        self.api.call("POST", f"/flow_runs/{self.id}/set_state", _state(state_type, message))

    def phase(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` (one of the engine's phases) recorded as a task run ``name`` of this
        flow run, as the flow's task of that name: Running as it starts, then Completed,
        Failed with the error, or Crashed."""

        def recorded(*args: Any, **kwargs: Any) -> Any:
            task_run = _best_effort(self, self.api.call, "POST", "/task_runs/", {
                "flow_run_id": self.id, "task_key": name, "dynamic_key": "0",
                "name": f"{name}-0", "state": {"type": "RUNNING", "name": "Running"}})
            try:
                result = call(*args, **kwargs)
            except Exception as exc:
                self._end_task(task_run, "FAILED", _failure("Task run", exc))
                raise
            except BaseException as exc:
                self._end_task(task_run, "CRASHED", _interrupt(exc))
                raise
            self._end_task(task_run, "COMPLETED")
            return result

        return recorded

    def _end_task(self, task_run: dict[str, Any] | None, state_type: str,
                  message: str | None = None) -> None:
        if task_run is not None:
            _best_effort(self, self.api.call, "POST", f"/task_runs/{task_run['id']}/set_state",
                         _state(state_type, message))

    def _artifact(self, key: str, kind: str, data: str, description: str) -> None:
        """Best effort, as the run's other requests once it is created."""
        _best_effort(self, self.api.call, "POST", "/artifacts/", {
            "key": key, "type": kind, "data": data, "description": description,
            "flow_run_id": self.id})


def _state(state_type: str, message: str | None = None) -> dict[str, Any]:
    return {"state": {"type": state_type, "name": state_type.capitalize(), "message": message},
            "force": False}


def _failure(what: str, exc: BaseException) -> str:
    return f"{what} encountered an exception: {type(exc).__name__}: {exc}"


def _interrupt(exc: BaseException) -> str:
    """``Interrupted: KeyboardInterrupt``, or with the signal: ``Interrupted: Terminated
    (SIGTERM)``."""
    return f"Interrupted: {type(exc).__name__}" + (f" ({exc})" if str(exc) else "")


def _without_nan(item: Any) -> Any:
    """JSON has no NaN: Prefect's table artifacts write None for it."""
    if isinstance(item, list):
        return [_without_nan(value) for value in item]
    if isinstance(item, dict):
        return {key: _without_nan(value) for key, value in item.items()}
    return None if isinstance(item, float) and math.isnan(item) else item


def run_recorded(request: compose.RunRequest, api: RestApi, parameters: dict[str, Any],
                 on_progress: ProgressCallback | None = None) -> RunSummary:
    """``compose.run_all`` of ``request``, recorded as a flow run (its summary names it):
    ``Refused`` (nothing run) where the server refuses to create it, ``ServerUnavailable``
    where none answers. Once created, a record the server fails to complete is a note on
    stderr: the run's answer (its summary, or its error) stands."""
    name = artifacts.flow_run_name(request.spec.name)
    run = RecordedRun.start(api, name, parameters)
    engine = compose.Phases()
    calls = {"plan": engine.plan, "execute": artifacts.executing(run, engine.execute),
             "publish": engine.publish, "report": artifacts.reporting(run)}
    phases = compose.Phases(**{phase: run.phase(artifacts.TASK_NAMES[phase], call)
                               for phase, call in calls.items()})
    run.log(f"backend {request.backend.backend} ({request.backend.reason})")
    try:
        summary = compose.run_all(request, phases, on_progress).summary
    except Exception as exc:
        _best_effort(run, run.end, "FAILED", _failure("Flow run", exc))
        raise
    except BaseException as exc:  # an interrupt: the process ends here
        _best_effort(run, run.end, "CRASHED", _interrupt(exc))
        raise
    run.log(artifacts.outcome_line(summary))
    _best_effort(run, run.end, "COMPLETED")
    return artifacts.naming_its_flow_run(summary, name, run.id)


def _best_effort(run: RecordedRun, call: Callable[..., Any], *args: Any) -> Any:
    """A request of a created run, its answer; one the server fails is a note (and None),
    never the run's error."""
    try:
        return call(*args)
    except (Refused, ServerUnavailable) as exc:
        print(f"note: flow run {run.id} in Prefect may be incomplete: {exc}",
              file=sys.stderr, flush=True)
        return None
