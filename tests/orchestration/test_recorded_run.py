"""``assay run`` against a configured server: its flow run recorded through Prefect's REST
API (``flows/recorded_run.py``), read back from a real ``prefect server start``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.flows.artifacts import artifact_key, gate_artifact_key
from assay.flows.prefect_api import PrefectServer
from assay.flows.recorded_run import RecordedRun, RestApi, run_recorded
from assay.flows.server import free_port, local_server
from assay.pipelines import compose
from assay.pipelines.errors import EXIT_GATE_ABORT
from tests.flows.conftest import write_tiny_pipeline
from tests.orchestration.conftest import ASSAY, feed_fifo, wait_for

ENGINE_TASKS = ["plan-inputs", "publish-version", "report", "run-engine"]
ABORTING_GATE = """\
gates:
  - name: ids
    policy: abort
    expectations: [{type: expect_column_values_to_be_between,
                    kwargs: {column: id, min_value: 2}}]
"""


def _assay_run(spec: Path, api: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": api, "ASSAY_DAEMON": "off",
                "ASSAY_DATA_DIR": str(spec.parent / "data")})
    return subprocess.run([ASSAY, "run", str(spec), *args], env=env, capture_output=True,
                          text=True, timeout=180)


def _pipeline(tmp_path: Path, extra: str = "") -> tuple[Path, str]:
    name = f"rec{uuid.uuid4().hex[:8]}"
    spec = write_tiny_pipeline(tmp_path, name=name)
    spec.write_text(spec.read_text() + extra)
    return spec, name


def _flow_runs(api: str, name: str, headers: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
    return httpx.post(f"{api}/flow_runs/filter", headers=headers, json={
        "flow_runs": {"name": {"like_": name}}}).json()


def _flow_run(api: str, name: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    (run,) = _flow_runs(api, name, headers)
    return run


def _task_runs(api: str, run: dict[str, Any], headers: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
    return httpx.post(f"{api}/task_runs/filter", headers=headers, json={
        "task_runs": {"flow_run_id": {"any_": [run["id"]]}}}).json()


def _task_names(api: str, run: dict[str, Any], headers: dict[str, str] | None = None
                ) -> list[str]:
    return sorted(t["name"].rsplit("-", 1)[0] for t in _task_runs(api, run, headers))


def _summary_row(stdout: str, label: str) -> str:
    """The value of the summary table's row ``label``."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"│ {label} ")]
    return line.strip("│ ").split("│")[1].strip()


def _artifacts(api: str, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = httpx.post(f"{api}/artifacts/filter", json={
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    return {a["key"]: a for a in found}


def _log_lines(api: str, run: dict[str, Any]) -> list[str]:
    logs = httpx.post(f"{api}/logs/filter", json={
        "logs": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    return [entry["message"] for entry in logs]


def test_a_run_is_a_flow_run_recorded_without_prefects_engine(prefect_api: str,
                                                              tmp_path: Path) -> None:
    spec, name = _pipeline(tmp_path)
    done = _assay_run(spec, prefect_api, "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "replaced the dataset: 4 rows" in done.stdout
    run = _flow_run(prefect_api, name)
    assert run["state_type"] == "COMPLETED" and run["name"].startswith(f"{name}-2")
    assert httpx.get(f"{prefect_api}/flows/{run['flow_id']}").json()["name"] == "ingest"
    assert run["parameters"]["spec_path"] == str(spec.resolve())
    assert run["parameters"]["output"] == str(tmp_path / "out")
    assert run["start_time"] < run["end_time"]
    assert _task_names(prefect_api, run) == ENGINE_TASKS  # the phases, as the flow's tasks
    assert {t["state_type"] for t in _task_runs(prefect_api, run)} == {"COMPLETED"}
    assert _summary_row(done.stdout, "prefect flow run") == f"{run['name']} ({run['id']})"
    summary = _artifacts(prefect_api, run)[artifact_key(name)]
    assert summary["type"] == "markdown"
    assert "| rows written | 4 |" in summary["data"]
    assert summary["description"] == f"{name} version 0: 4 rows"
    lines = _log_lines(prefect_api, run)  # assay's lines only: Prefect's engine did not run
    assert len(lines) == 2 and lines[0].startswith("backend pandas (")
    assert lines[1] == (f"{tmp_path / 'out'}: version 0 (overwrite): 5 rows read, 4 written, "
                        "1 quarantined")
    wait_for(lambda: _heartbeats(prefect_api, run), 30, "the run's heartbeat event")


def _heartbeats(api: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The flow run's heartbeat events, as an automation that detects crashed runs reads
    them (the server stores events a moment after it receives them)."""
    found = httpx.post(f"{api}/events/filter", json={"filter": {
        "event": {"name": ["prefect.flow-run.heartbeat"]},
        "resource": {"id": [f"prefect.flow-run.{run['id']}"]}}}).json()
    return found["events"]


def test_prefect_runs_it_through_prefects_engine(prefect_api: str,
                                                         tmp_path: Path) -> None:
    spec, name = _pipeline(tmp_path)
    done = _assay_run(spec, prefect_api, "--prefect")
    assert done.returncode == 0, done.stderr
    run = _flow_run(prefect_api, name)
    assert run["state_type"] == "COMPLETED"
    assert _task_names(prefect_api, run) == ENGINE_TASKS
    assert artifact_key(name) in _artifacts(prefect_api, run)
    assert _summary_row(done.stdout, "prefect flow run") == f"{run['name']} ({run['id']})"
    wait_for(lambda: "Finished in state Completed()" in _log_lines(prefect_api, run), 30,
             "Prefect's engine's last log line")


def test_an_aborted_run_is_failed_with_its_gate_explained(prefect_api: str,
                                                         tmp_path: Path) -> None:
    spec, name = _pipeline(tmp_path, ABORTING_GATE)
    done = _assay_run(spec, prefect_api)
    alone = _assay_run(spec, prefect_api, "--no-prefect")
    assert done.returncode == alone.returncode == EXIT_GATE_ABORT, done.stderr
    assert done.stderr.splitlines()[-1] == alone.stderr.splitlines()[-1]
    run = _flow_run(prefect_api, name)
    assert run["state_type"] == "FAILED"
    assert run["state"]["message"].startswith(
        "Flow run encountered an exception: GateAborted: gate 'ids' failed")
    states = {t["name"]: t["state_type"] for t in _task_runs(prefect_api, run)}
    assert states == {"plan-inputs-0": "COMPLETED", "run-engine-0": "FAILED"}
    table = _artifacts(prefect_api, run)[gate_artifact_key(name, "ids")]
    assert table["type"] == "table" and "expect_column_values_to_be_between" in table["data"]
    assert table["description"].startswith(f"{name} gate ids: aborted")
    assert not (tmp_path / "out" / "_delta_log").exists()  # nothing published


def test_a_run_that_fails_before_the_engine_is_failed_too(prefect_api: str,
                                                         tmp_path: Path) -> None:
    spec, name = _pipeline(tmp_path)
    (tmp_path / "data.csv").unlink()
    done = _assay_run(spec, prefect_api)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    message = _flow_run(prefect_api, name)["state"]["message"]
    assert message.startswith("Flow run encountered an exception: ")
    assert "data.csv" in message


def test_a_server_that_refuses_the_record_gets_the_run_from_prefects_engine(
        tmp_path: Path) -> None:
    # CSRF protection: requests without Prefect's client's token are refused (403)
    with local_server(tmp_path / "csrf", port=free_port(),
                      env={"PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true"}) as api:
        spec, name = _pipeline(tmp_path)
        done = _assay_run(spec, api, "--verbose")
        assert done.returncode == 0, done.stderr
        assert "HTTP 403" in done.stderr and "the run goes through Prefect's engine" \
            in done.stderr
        client = uuid.uuid4().hex  # this test's own requests carry a token
        token = httpx.get(f"{api}/csrf-token", params={"client": client}).json()["token"]
        csrf = {"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": client}
        run = _flow_run(api, name, csrf)
        assert run["state_type"] == "COMPLETED"
        assert _task_names(api, run, csrf) == ENGINE_TASKS


def test_a_server_gone_during_the_run_leaves_a_note_not_an_error(
        prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    spec, name = _pipeline(tmp_path)
    api = RestApi(PrefectServer(prefect_api))
    real_run_all = compose.run_all

    def server_goes(*args: Any, **kwargs: Any) -> Any:
        api.server = PrefectServer(f"http://127.0.0.1:{free_port()}/api")
        return real_run_all(*args, **kwargs)

    monkeypatch.setattr(compose, "run_all", server_goes)
    request = compose.load(spec, output=str(tmp_path / "out"),
                           data_dir=tmp_path / "data")
    summary = run_recorded(request, api, {"spec_path": str(spec)})
    assert summary.rows_written == 4 and (tmp_path / "out" / "_delta_log").is_dir()
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes and all("in Prefect may be incomplete: no Prefect server answers at"
                         in line for line in notes)
    assert _flow_run(prefect_api, name)["state_type"] == "RUNNING"


def test_table_artifacts_write_none_for_nan(prefect_api: str) -> None:
    api = RestApi(PrefectServer(prefect_api))
    run = RecordedRun.start(api, f"nan-{uuid.uuid4().hex[:8]}", {})
    run.table("assay-nan-check", [{"value": float("nan"), "name": "x"}], "NaN as None")
    (artifact,) = _artifacts(prefect_api, {"id": run.id}).values()
    assert artifact["data"] == '[{"value": null, "name": "x"}]'


def test_an_interrupted_run_is_crashed(prefect_api: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spec, name = _pipeline(tmp_path)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(compose, "run_all", interrupted)
    request = compose.load(spec, output=str(tmp_path / "out"), data_dir=tmp_path / "data")
    with pytest.raises(KeyboardInterrupt):
        run_recorded(request, RestApi(PrefectServer(prefect_api)), {})
    run = _flow_run(prefect_api, name)
    assert (run["state_type"], run["state"]["message"]) == (
        "CRASHED", "Interrupted: KeyboardInterrupt")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminating_signal_ends_the_flow_run_crashed(prefect_api: str, tmp_path: Path,
                                                        signum: int) -> None:
    """SIGTERM (a container's stop, ``timeout``) or SIGHUP (a closed terminal) unwinds the
    run as Ctrl-C does: the flow run and its running task run end Crashed, not Running for
    good, and the command exits 128 + the signal with one line. The input is a FIFO, so the
    run waits in planning until the test writes it."""
    spec, name = _pipeline(tmp_path)
    fifo = tmp_path / "slow.csv"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": prefect_api, "ASSAY_DAEMON": "off",
                "ASSAY_DATA_DIR": str(tmp_path / "data")})
    child = subprocess.Popen([ASSAY, "run", str(spec), "--input", str(fifo)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def planning() -> bool:
            runs = _flow_runs(prefect_api, name)
            return bool(runs) and bool(_task_runs(prefect_api, runs[0]))

        wait_for(planning, 120, "the run to start planning")
        child.send_signal(signum)
        time.sleep(0.5)  # the signal handled before the read ends
        assert feed_fifo(fifo, "id,city\n1,Oslo\n"), "the run did not outlive the signal"
        _, stderr = child.communicate(timeout=120)
    finally:
        child.kill()
    name_of = signal.Signals(signum).name
    assert child.returncode == 128 + signum, stderr
    assert stderr.splitlines()[-1] == f"error: terminated ({name_of})"
    run = _flow_run(prefect_api, name)
    assert (run["state_type"], run["state"]["message"]) == (
        "CRASHED", f"Interrupted: Terminated ({name_of})")
    (planning,) = _task_runs(prefect_api, run)
    assert planning["state_type"] == "CRASHED"
    assert not (tmp_path / "out").exists()  # nothing published


def test_a_recorded_run_imports_no_prefect(prefect_api: str, tmp_path: Path) -> None:
    # ``python -m assay``, as a fresh interpreter runs it: the console script's launcher
    spec, name = _pipeline(tmp_path)
    code = ("import json, runpy, sys\n"
            f"sys.argv = ['assay', 'run', {str(spec)!r}]\n"
            "try:\n    runpy.run_module('assay', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": prefect_api, "ASSAY_DAEMON": "off",
                "HOME": str(tmp_path / "home"), "ASSAY_DATA_DIR": str(tmp_path / "data")})
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    loaded = {module.split(".")[0] for module in json.loads(done.stdout.splitlines()[-1])}
    assert "prefect" not in loaded and "httpx" not in loaded
    assert "scipy" not in loaded  # Dask imported lean, as by the console script
    assert _flow_run(prefect_api, name)["state_type"] == "COMPLETED"
