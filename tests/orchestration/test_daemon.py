"""``assay daemon``: runs handed to a resident process behave as runs in their own process.

Real processes throughout: the ``assay`` console script, a daemon started with ``assay
daemon start`` in a temporary data directory, the session's ``prefect server start``.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assay.flows import daemon_protocol
from assay.pipelines.data_dir import default_data_dir
from tests.flows.conftest import write_tiny_pipeline
from tests.orchestration.conftest import ASSAY, feed_fifo, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name != "posix", reason="the daemon is POSIX only")]

EVENTS = Path(__file__).parents[2] / "data_samples" / "events"
# summary rows that differ between any two runs
VOLATILE = re.compile(r"run id|time|rows per second|path")


@dataclass
class Daemon:
    env: dict[str, str]  # a client's environment: the daemon's data directory
    pid: int
    socket: Path
    log: Path


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """No Prefect server anywhere (no URL, a profiles file that does not exist); runs use
    the daemon the test started and launch none (ASSAY_DAEMON=manual) unless ``extra``
    says otherwise."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    return {**env, "ASSAY_DATA_DIR": str(data_dir), "ASSAY_DAEMON": "manual",
            "PREFECT_PROFILES_PATH": str(data_dir / "no-profiles.toml"),
            "COLUMNS": "120", **extra}


def _assay(*args: str, env: dict[str, str], cwd: Path | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid_of(status_line: str) -> int:
    match = re.search(r"pid (\d+)", status_line)
    assert match, status_line
    return int(match.group(1))


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A data directory with a short path: a Unix socket's path has at most 107 bytes."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="assay-d-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _start(data_dir: Path) -> Daemon:
    env = _env(data_dir)
    started = _assay("daemon", "start", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    folder = data_dir / "daemon"
    return Daemon(env, _pid_of(started.stdout), folder / "assay.sock", folder / "daemon.log")


def _stop(daemon: Daemon) -> None:
    """Stop it; the socket is gone and no process is left (a stray one is killed)."""
    try:
        stopped = _assay("daemon", "stop", env=daemon.env)
        assert stopped.returncode == 0, stopped.stderr
        assert not daemon.socket.exists()
        assert not _alive(daemon.pid)
    finally:
        if _alive(daemon.pid):
            os.kill(daemon.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    """One daemon for the module's runs (it takes seconds to import everything)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="assay-d-"))
    running = _start(folder)
    try:
        yield running
    finally:
        _stop(running)
        shutil.rmtree(folder, ignore_errors=True)


def _served(daemon: Daemon) -> list[str]:
    """The daemon log's lines of runs it forked."""
    return [line for line in daemon.log.read_text().splitlines() if "] run " in line
            and ": assay run" in line]


def _stable(summary: str) -> list[str]:
    """A summary's lines without their padding and box drawing, less the volatile rows."""
    lines = [re.sub(r"[\s\u2500-\u257f]+", " ", line).strip() for line in summary.splitlines()]
    return [line for line in lines if line and not VOLATILE.search(line)]


def test_data_dir_matches_the_ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path))
    assert daemon_protocol.daemon_dir() == default_data_dir() / "daemon"
    monkeypatch.delenv("ASSAY_DATA_DIR")
    assert daemon_protocol.daemon_dir() == default_data_dir() / "daemon"


def test_a_run_through_the_daemon_is_the_run_in_process(daemon: Daemon, tmp_path: Path
                                                        ) -> None:
    before = len(_served(daemon))
    served = _assay("run", str(EVENTS / "pipeline.yaml"), "-o", str(tmp_path / "out-a"),
                    env=daemon.env)
    alone = _assay("run", str(EVENTS / "pipeline.yaml"), "-o", str(tmp_path / "out-b"),
                   "--no-daemon", env=daemon.env)
    assert served.returncode == alone.returncode == 0, served.stderr + alone.stderr
    assert "rows written" in served.stdout and "2,983" in served.stdout
    assert _stable(served.stdout) == _stable(alone.stdout)
    # not a terminal: plain progress lines on stderr, in both
    assert served.stderr == alone.stderr
    assert served.stderr.startswith("progress: ")
    assert len(_served(daemon)) == before + 1  # the daemon ran the first, not the second
    for out in ("out-a", "out-b"):
        assert list((tmp_path / out / "_delta_log").glob("*.json"))


def test_a_bad_spec_is_exit_2_and_the_same_line(daemon: Daemon, tmp_path: Path) -> None:
    spec = write_tiny_pipeline(tmp_path)
    spec.write_text(spec.read_text() + "bogus_key: 1\n")
    served = _assay("run", str(spec), env=daemon.env)
    alone = _assay("run", str(spec), env={**daemon.env, "ASSAY_DAEMON": "off"})
    assert served.returncode == alone.returncode == 2
    assert served.stderr == alone.stderr
    assert served.stderr.startswith("error: ") and "bogus_key" in served.stderr
    assert served.stdout == alone.stdout == ""


@pytest.mark.parametrize("engine", [[], ["--prefect"]], ids=["recorded", "prefect-engine"])
def test_the_run_is_a_flow_run_of_the_clients_server(daemon: Daemon, prefect_api: str,
                                                     tmp_path: Path, engine: list[str]) -> None:
    # the daemon knows no server; the client's environment names one
    name = f"ev{uuid.uuid4().hex[:8]}"
    shutil.copytree(EVENTS, tmp_path / "events")
    spec = tmp_path / "events" / "pipeline.yaml"
    spec.write_text(spec.read_text().replace("name: events", f"name: {name}", 1))
    before = len(_served(daemon))
    done = _assay("run", str(spec), "-o", str(tmp_path / "out"), *engine,
                  env={**daemon.env, "PREFECT_API_URL": prefect_api})
    assert done.returncode == 0, done.stderr
    assert len(_served(daemon)) == before + 1
    runs = httpx.post(f"{prefect_api}/flow_runs/filter", json={
        "flow_runs": {"name": {"like_": name}}}).json()
    assert [r["state_type"] for r in runs] == ["COMPLETED"], runs
    flow = httpx.get(f"{prefect_api}/flows/{runs[0]['flow_id']}").json()
    assert flow["name"] == "ingest"
    if not engine:
        return  # recorded through the REST API before the exit code (test_recorded_run.py)
    # the client ended once the run had its exit code; the child then drained Prefect's
    # log worker in the background: the run's last logs reach the server
    pid = int(re.search(r"\] run (\d+):", _served(daemon)[-1]).group(1))

    def finished_logged() -> bool:
        logs = httpx.post(f"{prefect_api}/logs/filter", json={
            "logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}}).json()
        return "Finished in state Completed()" in [entry["message"] for entry in logs]

    wait_for(finished_logged, 30, "the run's last log line on the server")

    def ends_logged() -> list[str] | None:
        lines = [line.split("] ", 1)[1] for line in daemon.log.read_text().splitlines()
                 if f"] run {pid}: exit" in line]
        return lines if len(lines) == 2 else None

    ended = wait_for(ends_logged, 30, "the child's end in the daemon log")
    assert ended[0] == f"run {pid}: exit 0 reported; the run finishes in the background"
    assert ended[1].startswith(f"run {pid}: exit 0, CPU ")


def test_a_prefect_setting_prefect_cannot_read_fails_as_in_process(daemon: Daemon,
                                                                   tmp_path: Path) -> None:
    spec = write_tiny_pipeline(tmp_path)
    env = {**daemon.env, "PREFECT_API_URL": "http://127.0.0.1:9/api",
           "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "often"}
    before = len(_served(daemon))
    served = _assay("run", str(spec), env=env)
    alone = _assay("run", str(spec), "--no-daemon", env=env)
    assert served.returncode == alone.returncode == 1
    assert len(_served(daemon)) == before + 1

    def errors(stderr: str) -> list[str]:
        return [line for line in stderr.splitlines() if line.startswith(("error: ", "hint: "))]

    assert errors(served.stderr) == errors(alone.stderr)
    assert errors(served.stderr)[0].startswith("error: internal failure: ValidationError")
    # the child's failure is the run's, not the daemon's: it still answers, socket in place
    assert _assay("daemon", "status", env=daemon.env).returncode == 0


def test_runs_at_once_and_a_terminal_seen_as_the_clients(daemon: Daemon, tmp_path: Path
                                                         ) -> None:
    specs = []
    for name in ("p0", "p1"):
        (tmp_path / name).mkdir()
        specs.append(write_tiny_pipeline(tmp_path / name, name=name))
    main, side = pty.openpty()  # stderr on a terminal: rich's live bar, no progress lines
    seen: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(main, seen))
    reader.start()
    try:
        children = [subprocess.Popen([ASSAY, "run", str(spec)], env=daemon.env,
                                     stdout=subprocess.PIPE, stderr=side, text=True)
                    for spec in specs]
        outputs = [child.communicate(timeout=180)[0] for child in children]
    finally:
        os.close(side)
        reader.join(timeout=30)
        os.close(main)
    assert [child.returncode for child in children] == [0, 0]
    for spec, out in zip(specs, outputs, strict=True):
        assert "replaced the dataset: 4 rows" in out
        assert list((spec.parent / "out" / "_delta_log").glob("*.json"))
    assert b"progress: " not in b"".join(seen)
    assert "progress: " in _assay("run", str(specs[0]), env=daemon.env).stderr


def _drain(fd: int, into: list[bytes]) -> None:
    """Read a pty's output until its other side is closed."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            return
        if not chunk:
            return
        into.append(chunk)


def test_sigterm_is_relayed_and_the_client_ends_as_the_run(daemon: Daemon, tmp_path: Path
                                                           ) -> None:
    spec = write_tiny_pipeline(tmp_path)
    fifo = tmp_path / "never.csv"
    os.mkfifo(fifo)  # reading it blocks until the test writes it
    before = len(_served(daemon))
    child = subprocess.Popen([ASSAY, "run", str(spec), "--input", str(fifo)],
                             env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        forked = wait_for(lambda: _served(daemon)[before:], 60, "the daemon to fork the run")
        time.sleep(1)  # the client installs its relay once the daemon answered
        child.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the run raised Terminated and waits for its planning's read
        assert feed_fifo(fifo, "id,city\n1,Oslo\n"), "the run did not outlive SIGTERM"
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 143, stderr  # the run's own answer to SIGTERM, relayed
    assert stderr.splitlines()[-1] == "error: terminated (SIGTERM)"
    run_pid = int(re.search(r"\] run (\d+):", forked[0]).group(1))
    wait_for(lambda: not _alive(run_pid), 30, "the run to end")
    assert f"run {run_pid}: exit 143" in daemon.log.read_text()


def test_stale_code_runs_in_process_and_the_daemon_exits(short_tmp: Path) -> None:
    running = _start(short_tmp)
    try:
        status = _assay("daemon", "status", env=running.env)
        assert status.returncode == 0
        for part in (f"pid {running.pid}", f"socket {running.socket}", "started at",
                     "0 runs served"):
            assert part in status.stdout
        assert running.socket.stat().st_mode & 0o777 == 0o600
        # a source file of a module the daemon loaded changes (its mtime, put back after)
        import assay.flows.summary as changed

        source = Path(changed.__file__)
        seen = source.stat()
        os.utime(source, ns=(seen.st_atime_ns, seen.st_mtime_ns + 1_000_000_000))
        try:
            spec = write_tiny_pipeline(short_tmp)
            done = _assay("run", str(spec), "--verbose", env=running.env)
        finally:
            os.utime(source, ns=(seen.st_atime_ns, seen.st_mtime_ns))
        assert done.returncode == 0, done.stderr
        assert "replaced the dataset: 4 rows" in done.stdout
        assert "the assay daemon is stale" in done.stderr and "summary.py" in done.stderr
        wait_for(lambda: not _alive(running.pid), 60, "the stale daemon to exit")
        assert not running.socket.exists()
        assert _assay("daemon", "status", env=running.env).returncode == 1
        assert "refused a run: the assay daemon is stale" in running.log.read_text()
    finally:
        if _alive(running.pid):
            os.kill(running.pid, signal.SIGKILL)


def test_a_run_that_finds_none_launches_a_daemon_that_exits_when_idle(short_tmp: Path
                                                                     ) -> None:
    """ASSAY_DAEMON unset (auto): the first run goes in process and then launches a daemon
    (one line on stderr); the next run goes to it; a second daemon for the folder exits at
    once; with no run for ASSAY_DAEMON_IDLE_EXIT seconds it exits and removes its socket."""
    env = _env(short_tmp, ASSAY_DAEMON="", ASSAY_DAEMON_IDLE_EXIT="5")
    spec = write_tiny_pipeline(short_tmp)
    first = _assay("run", str(spec), env=env)
    assert first.returncode == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if line.startswith("note: started")]
    assert len(notes) == 1 and "exits after 5 s without a run" in notes[0], first.stderr
    pid = int(re.search(r"pid (\d+)", notes[0]).group(1))
    try:
        log = short_tmp / "daemon" / "daemon.log"
        wait_for(lambda: "listening at" in log.read_text(), 120, "the daemon to listen")
        other = subprocess.run([sys.executable, "-m", "assay.flows.daemon_server",
                                str(short_tmp / "daemon")], env=env, capture_output=True,
                               text=True, timeout=60)
        assert other.returncode == 3, other.stdout + other.stderr
        assert "another assay daemon holds" in other.stdout
        second = _assay("run", str(spec), env=env)
        assert second.returncode == 0, second.stderr
        assert "note: started" not in second.stderr  # it ran in the daemon: none launched
        assert re.search(rf"\[{pid}\] run \d+: assay run ", log.read_text())
        wait_for(lambda: not _alive(pid), 60, "the idle daemon to exit")
        assert "no run for 5 s; exiting" in log.read_text()
        assert not (short_tmp / "daemon" / "assay.sock").exists()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_asking_run_for_its_help_launches_no_daemon(short_tmp: Path) -> None:
    """``assay run --help`` with ASSAY_DAEMON unset prints the help and nothing else: no
    run happened, so no resident process is left behind for later runs."""
    env = _env(short_tmp, ASSAY_DAEMON="")
    for flag in ("--help", "-h"):
        shown = _assay("run", flag, env=env)
        assert shown.returncode == 0, shown.stderr
        assert "Usage: assay run" in shown.stdout and shown.stderr == ""
    status = _assay("daemon", "status", env=env)
    assert status.returncode == 1 and status.stdout.startswith("no assay daemon running")


def test_a_socket_of_another_kind_is_not_used(short_tmp: Path) -> None:
    """A plain file where the socket should be: runs go in process, start refuses it."""
    env = _env(short_tmp)
    folder = short_tmp / "daemon"
    folder.mkdir()
    (folder / "assay.sock").write_text("not a socket")
    spec = write_tiny_pipeline(short_tmp)
    assert _assay("run", str(spec), env=env).returncode == 0
    started = _assay("daemon", "start", env=env)
    assert started.returncode == 1
    assert "not a socket of this user" in started.stderr


def test_no_daemon_status_and_stop_say_so(short_tmp: Path) -> None:
    env = _env(short_tmp)
    status = _assay("daemon", "status", env=env)
    assert status.returncode == 1 and status.stdout.startswith("no assay daemon running")
    stop = _assay("daemon", "stop", env=env)
    assert stop.returncode == 0 and stop.stdout.strip() == "no assay daemon running"


def test_a_socket_path_too_long_is_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 120)
    started = _assay("daemon", "start", env=_env(data_dir))
    assert started.returncode == 1
    assert started.stderr.startswith(f"error: {data_dir / 'daemon' / 'assay.sock'}: too long")


def test_a_malformed_request_is_refused_and_the_daemon_goes_on(daemon: Daemon) -> None:
    sock = daemon_protocol.connect(daemon.socket, timeout=30)
    assert sock is not None
    with sock:
        daemon_protocol.send(sock, {"command": "run", "argv": "run x.yaml",
                                    "python": sys.executable}, [0, 1, 2])
        reply, _ = daemon_protocol.receive(sock)
    assert reply == {"refused": "a malformed run request"}
    assert _assay("daemon", "status", env=daemon.env).returncode == 0

# last in the module: it stops the module's daemon (the fixture then finds none to stop)
def test_stop_removes_the_socket_and_leaves_no_process(daemon: Daemon) -> None:
    stopped = _assay("daemon", "stop", env=daemon.env)
    assert stopped.returncode == 0
    assert stopped.stdout.startswith(f"assay daemon stopped (pid {daemon.pid}, ")
    assert not daemon.socket.exists()
    assert not _alive(daemon.pid)
    assert "stopped after" in daemon.log.read_text()
    assert _assay("daemon", "status", env=daemon.env).returncode == 1
