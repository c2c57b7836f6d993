"""The orchestration commands as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from assay.flows.server import ServerUnavailable, free_port, local_server
from assay.pipelines.ledger import Ledger
from tests.flows.conftest import write_tiny_pipeline
from tests.orchestration.conftest import ASSAY, add_pipeline


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "ASSAY_API_TOKENS")}
    return {**env, "ASSAY_DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.mark.slow
def test_serve_starts_and_stops_its_own_prefect_server(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    name = add_pipeline(folder)
    child = subprocess.Popen([ASSAY, "serve", str(folder)], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("prefect server: http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx.get(f"{url}/health").status_code == 200
        assert child.stdout.readline().strip() == f"serving deployment ingest/{name}"
        assert child.stdout.readline().strip() == (
            "ready: 1 deployment(s), looking for runs every 1 s, at most 4 at once")
        assert (tmp_path / "data" / "prefect").is_dir()
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


def test_api_without_tokens_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    add_pipeline(folder)
    done = subprocess.run([ASSAY, "api", str(folder)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: no API tokens: pass --tokens FILE or set $ASSAY_API_TOKENS")


def test_api_says_what_it_takes_where(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    name = add_pipeline(folder)
    port = free_port()
    child = subprocess.Popen([ASSAY, "api", str(folder), "--port", str(port)],
                             env=_env(tmp_path, ASSAY_API_TOKENS=f"{name}=t"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert line == (f"taking uploads of {name} at http://127.0.0.1:{port}/v1/pipelines/NAME/"
                    f"uploads, landed under {tmp_path / 'data'}\n"), (line, err)
    assert "PREFECT_API_URL is not set" in err


def test_serve_refuses_a_folder_without_specs(tmp_path: Path) -> None:
    done = subprocess.run([ASSAY, "serve", str(tmp_path)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no pipeline specs" in done.stderr and "Traceback" not in done.stderr


def test_watch_lands_a_renamed_file_and_keeps_it_pending_without_a_server(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pipelines"
    name = add_pipeline(folder)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    child = subprocess.Popen(
        [ASSAY, "watch", str(folder / name / "pipeline.yaml"), str(inbox),
         "--settle", "0.2", "--interval", "0.2"],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = threading.Timer(90, child.kill)  # a silent watcher must not hang the suite
    deadline.start()
    try:
        (inbox / ".day1.csv.part").write_text("id,city\n1,Lima\n")  # still being written
        (inbox / ".day1.csv.part").rename(inbox / "day1.csv")
        assert child.stdout is not None
        first = child.stdout.readline()
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        deadline.cancel()
    assert first == (f"watching {inbox} for uploads of pipeline {name} (complete once "
                     "unchanged for 0.2 s, polled every 0.2 s), landed in "
                     f"{tmp_path / 'data' / 'landing' / name}; PREFECT_API_URL is not set: "
                     "uploads wait as pending\n"), (first, err)
    assert line.startswith("upload ") and "(day1.csv): pending" in line, (line, err)
    assert "PREFECT_API_URL is not set" in line
    assert "Traceback" not in err
    assert not (inbox / "day1.csv").exists()  # moved into the landing zone
    upload_id = line.split()[1]
    landed = list((tmp_path / "data" / "landing" / name).glob(f"{upload_id}.csv"))
    assert len(landed) == 1 and landed[0].read_text() == "id,city\n1,Lima\n"
    pending = Ledger.in_data_dir(tmp_path / "data").get(upload_id)
    assert pending is not None and pending.state == "pending"


@pytest.mark.parametrize("verbose", [False, True])
def test_a_temporary_server_that_does_not_start_is_one_line_not_a_bug(
        tmp_path: Path, verbose: bool) -> None:
    spec = write_tiny_pipeline(tmp_path)
    env = _env(tmp_path, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0")
    done = subprocess.run([ASSAY, "run", str(spec), "--prefect",
                           *(["--verbose"] if verbose else [])],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "bug in assay" not in done.stderr
    assert ("Traceback" in done.stderr) == verbose, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: Prefect's temporary server did not start within 0 s"), line
    if not verbose:  # Prefect's own console lines are warnings at most
        assert done.stderr.strip() == line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["run", "serve"])
def test_an_unreachable_prefect_server_is_one_line(tmp_path: Path, command: str) -> None:
    spec = write_tiny_pipeline(tmp_path)
    env = _env(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api")
    done = subprocess.run([ASSAY, command, str(spec)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: no Prefect server answers at http://127.0.0.1:9/api "
                                   "(PREFECT_API_URL); start it, or unset the variable to run "
                                   "without Prefect")


def test_a_local_server_not_up_in_time_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ServerUnavailable, match=r"did not start \(not up in 0 s\); see "), \
            local_server(tmp_path, timeout=0):
        pass


def test_run_without_a_configured_server_goes_without_prefect(tmp_path: Path) -> None:
    spec = write_tiny_pipeline(tmp_path)
    home = tmp_path / "prefect-home"
    env = _env(tmp_path, PREFECT_HOME=str(home), PREFECT_PROFILES_PATH=str(home / "none.toml"))
    done = subprocess.run([ASSAY, "run", str(spec)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "version" in done.stdout and "replaced the dataset: 4 rows" in done.stdout
    assert list((tmp_path / "out" / "_delta_log").glob("*.json"))
    # Prefect's temporary server would have created its database in its home
    assert not list(home.rglob("*.db")), list(home.rglob("*"))


def test_run_reports_to_the_server_named_in_prefects_profile(tmp_path: Path) -> None:
    spec = write_tiny_pipeline(tmp_path)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "team"\n\n[profiles.team]\n'
                        'PREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    env = _env(tmp_path, PREFECT_PROFILES_PATH=str(profiles))
    done = subprocess.run([ASSAY, "run", str(spec)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        "error: no Prefect server answers at http://127.0.0.1:9/api"), done.stderr
    assert not (tmp_path / "out").exists()


def test_a_probe_not_waited_for_is_stopped_with_its_block(tmp_path: Path) -> None:
    # a fresh interpreter: Prefect not imported, no PREFECT_API_URL, a profile that names
    # one, so a side process asks
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    code = ("from assay.flows.prefect_api import ApiUrlProbe\n"
            "with ApiUrlProbe() as probe:\n"
            "    child = probe._child\n"
            "print(child is not None and child.returncode is not None)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(tmp_path, PREFECT_PROFILES_PATH=str(profiles)), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
