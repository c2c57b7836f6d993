"""The ``assay`` console script: a thin launcher in front of the typer app.

``assay run`` goes to a running ``assay daemon`` (which has pandas, Dask and Prefect
imported already) unless ``--no-daemon`` or ``ASSAY_DAEMON=off``; every other command,
and ``run`` when no daemon answers, runs in this process as before. A run that found no
daemon launches one once it has ended (unless ``ASSAY_DAEMON`` is ``off`` or ``manual``,
or it only printed its help), which exits after 15 minutes without a run
(``ASSAY_DAEMON_IDLE_EXIT``, in seconds). This module imports only the standard library
until it knows which.
"""

from __future__ import annotations

import os
import sys

NO_DAEMON = "--no-daemon"
DAEMON_ENV = "ASSAY_DAEMON"  # off: never; manual: only one you started; else auto
IDLE_EXIT_ENV = "ASSAY_DAEMON_IDLE_EXIT"  # seconds without a run before it exits
DEFAULT_IDLE_EXIT_SECONDS = 900.0


def daemon_mode() -> str:
    """``off``, ``manual`` or ``auto`` (the default, and any other value)."""
    mode = os.environ.get(DAEMON_ENV, "").strip().lower()
    return mode if mode in ("off", "manual") else "auto"


def wants_daemon(argv: list[str]) -> bool:
    """Only ``assay run``, and only when neither the flag nor the variable says no."""
    return (argv[:1] == ["run"] and NO_DAEMON not in argv and daemon_mode() != "off"
            and os.name == "posix")


def idle_exit_seconds() -> float:
    """``ASSAY_DAEMON_IDLE_EXIT`` seconds, 15 minutes where unset; another value than a
    positive number is said in one line on stderr, and the default used."""
    value = os.environ.get(IDLE_EXIT_ENV, "").strip()
    if not value:
        return DEFAULT_IDLE_EXIT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if 0 < seconds < float("inf"):
        return seconds
    print(f"note: {IDLE_EXIT_ENV}={value!r} is not a positive number of seconds; using "
          f"{DEFAULT_IDLE_EXIT_SECONDS:g}", file=sys.stderr, flush=True)
    return DEFAULT_IDLE_EXIT_SECONDS


def asks_for_help(argv: list[str]) -> bool:
    """Whether the command only asks for its help: nothing runs, so no daemon is launched
    for later runs."""
    return "--help" in argv or "-h" in argv


def verbose_in(argv: list[str]) -> bool:
    """Whether the command asks for ``--verbose`` (``-v``): the launcher and the daemon's
    child decide before typer parses anything."""
    return "--verbose" in argv or "-v" in argv


def start_daemon_for_later() -> None:
    """Unless a daemon answers now (one of another interpreter, say), launch one that exits
    when idle, and say so in one line on stderr; a folder it cannot use is a line too, and
    the run's exit code stays the run's."""
    from assay.flows import daemon_protocol as protocol
    from assay.flows.daemon_spawn import SpawnError, spawn

    if (live := protocol.connect(protocol.socket_path(), timeout=1)) is not None:
        live.close()
        return
    try:
        idle = idle_exit_seconds()
        child, log_path = spawn(idle)
    except (SpawnError, OSError) as exc:
        print(f"note: no assay daemon started for later runs: {exc}", file=sys.stderr,
              flush=True)
        return
    print(f"note: started an assay daemon (pid {child.pid}, log {log_path}) so that later "
          f"runs start at once; it exits after {idle:g} s without a run. ASSAY_DAEMON=off "
          "turns this off.", file=sys.stderr, flush=True)


def main() -> None:
    argv = sys.argv[1:]
    start_later = False
    if wants_daemon(argv):
        from assay.flows.daemon_client import run_via_daemon

        code = run_via_daemon(argv, verbose=verbose_in(argv))
        if code is not None:
            sys.exit(code)
        start_later = daemon_mode() == "auto" and not asks_for_help(argv)
    from assay.flows.import_phase import collector_paused
    from assay.pipelines.lean_dask import import_dask_lean

    with collector_paused():
        import_dask_lean()
        from assay.flows.cli import app

    try:
        app(prog_name="assay")
    except SystemExit:
        if start_later:
            start_daemon_for_later()
        raise


if __name__ == "__main__":
    main()
