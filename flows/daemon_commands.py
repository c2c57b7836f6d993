"""``assay daemon start|stop|status``: the run daemon (POSIX only).

With a daemon running, ``assay run`` costs the run itself, not the ~3 s of importing
pandas, Dask and Prefect each time (see docs/operations.md, "The run daemon").
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import typer

from assay.flows import daemon_protocol as protocol
from assay.flows.daemon_spawn import SpawnError, spawn

daemon_app = typer.Typer(
    name="daemon",
    help="A resident process that makes `assay run` start in a fraction of a second.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
START_TIMEOUT_SECONDS = 120.0


def ask(command: str) -> dict[str, Any] | None:
    """The daemon's answer to ``status`` or ``stop``; None where none answers."""
    sock = protocol.connect(protocol.socket_path(), timeout=30)
    if sock is None:
        return None
    with sock:
        try:
            protocol.send(sock, {"command": command})
            return protocol.receive(sock)[0]
        except OSError:
            return None


def _describe(status: dict[str, Any]) -> str:
    return (f"pid {status['pid']}, socket {status['socket']}, started at "
            f"{status['started_at']}, {status['runs_served']} runs served, "
            f"{status['running']} running")


@daemon_app.command()
def start() -> None:
    """Start a daemon for this data directory ($ASSAY_DATA_DIR, else ~/.assay) in the
    background, staying until stopped; exit 0 once it answers (or when one already runs)."""
    if os.name != "posix":
        print("error: the assay daemon needs a POSIX system", file=sys.stderr)
        raise typer.Exit(1)
    if (status := ask("status")) is not None:
        print(f"assay daemon already running: {_describe(status)}")
        return
    try:
        child, log_path = spawn()
    except SpawnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while (status := ask("status")) is None:
        if child.poll() is not None or time.monotonic() > deadline:
            lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            why = f": {lines[-1]}" if child.poll() is not None and lines else ""
            print(f"error: the assay daemon did not start{why}; see {log_path}",
                  file=sys.stderr)
            raise typer.Exit(1)
        time.sleep(0.1)
    print(f"assay daemon started: {_describe(status)}; log {log_path}")


@daemon_app.command()
def stop(
    timeout: float = typer.Option(
        60.0, "--timeout", min=0, metavar="SECONDS",
        help="How long to wait for runs in progress to end."),
) -> None:
    """Stop the daemon: it takes no new run, lets the runs in progress end, and exits."""
    status = ask("stop")
    if status is None:
        print("no assay daemon running")
        return
    pid = int(status["pid"])
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            print(f"error: the assay daemon (pid {pid}) has not exited after {timeout:g} s",
                  file=sys.stderr)
            raise typer.Exit(1)
        time.sleep(0.05)
    print(f"assay daemon stopped (pid {pid}, {status['runs_served']} runs served)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@daemon_app.command()
def status() -> None:
    """Say whether a daemon runs: pid, socket, started at, runs served (exit 1: none)."""
    answer = ask("status")
    if answer is None:
        print(f"no assay daemon running (socket {protocol.socket_path()})")
        raise typer.Exit(1)
    print(f"assay daemon running: {_describe(answer)}")
