"""A run daemon's child becomes the client's process, then runs its command.

Forked from the daemon, the child takes the client's terminal (its fds 0-2 dup'd onto
0-2), working folder, umask, argv and whole environment, and rebuilds what was read from
the daemon's environment when the libraries were imported: the std streams' buffering,
Dask's config, Prefect's settings context and console log level, rich's consoles. Then it
runs the typer app exactly as the in-process CLI does. Once the command has its exit
code, the child reports it and leaves the client's terminal (``detach``), then ends as an
interpreter ends (``finish``) in the background.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

import typer

from assay.flows.launcher import verbose_in


def become_client(request: dict[str, Any], fds: list[int]) -> None:
    """Take over the client's terminal, folder, umask, argv and environment."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)  # the client relays Ctrl-C to this group (the run and its workers)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["assay", *request["argv"]]
    _reopen_std_streams()
    os.chdir(request["cwd"])  # last: a failure is reported on the client's stderr


def _reopen_std_streams() -> None:
    """New std streams over fds 0-2, buffered as Python buffers a new process's: line by line
    on a terminal, stderr always (the daemon's own are block-buffered into its log)."""
    def reopen(fd: int, mode: str, old: Any) -> io.TextIOWrapper:
        binary = open(fd, mode + "b", closefd=False)  # noqa: SIM115 (the stream outlives this)
        return io.TextIOWrapper(binary, encoding=old.encoding, errors=old.errors,
                                line_buffering=fd == 2 or os.isatty(fd))

    sys.stdin = reopen(0, "r", sys.__stdin__)
    sys.stdout = reopen(1, "w", sys.__stdout__)
    sys.stderr = reopen(2, "w", sys.__stderr__)


def _logging_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PREFECT_LOGGING_")}


def refresh_libraries(verbose: bool, daemon_env: Mapping[str, str]) -> None:
    """Re-read what the libraries took from the daemon's environment (``daemon_env``) at
    import."""
    import dask.config

    from assay.flows import cli

    tempfile.tempdir = None  # TMPDIR
    dask.config.refresh()  # DASK_* variables, the client's config files
    cli.prefect_environment(verbose)  # the console levels the in-process CLI sets
    if "prefect" in sys.modules:
        import prefect.context
        from prefect.logging.configuration import setup_logging
        from prefect.settings import get_current_settings

        # Prefect builds its settings (environment, profiles, .env and prefect.toml of the
        # working folder) once at import: build them again, for this environment and folder
        logging_before = get_current_settings().logging
        prefect.context.refresh_global_settings_context()
        # its logging config reads PREFECT_LOGGING_* variables itself, besides the settings
        if (get_current_settings().logging != logging_before
                or _logging_variables(os.environ) != _logging_variables(daemon_env)):
            # not incremental: that cannot lower a level to 0 (the console's under --verbose)
            setup_logging(incremental=False)
    cli.reset_consoles()


def run_command(request: dict[str, Any], fds: list[int]) -> int:
    """Become the client and run its command; the exit code it ended with."""
    argv = list(request["argv"])
    daemon_env = dict(os.environ)
    try:
        become_client(request, fds)
    except OSError as exc:  # e.g. the client's folder is gone
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    verbose = verbose_in(argv)
    from assay.flows.cli import _exit_codes, app

    try:
        # a setting Prefect cannot read fails here, as it fails the in-process CLI where
        # the flow imports Prefect: the same lines, the same exit code
        with _exit_codes(verbose):
            refresh_libraries(verbose, daemon_env)
        app(args=argv, prog_name="assay")
    except SystemExit as exc:  # typer.Exit is one once click handled it; not the first
        return _exit_code(exc.code)
    except typer.Exit as exc:
        return exc.exit_code
    return 0


def _exit_code(code: object) -> int:
    """As the interpreter maps ``sys.exit(code)``: None is 0, an int itself, else printed
    and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr, flush=True)
    return 1


def detach(code: int, ended: int, log_fd: int) -> None:
    """Report the exit code on ``ended`` (the daemon tells the client, which ends), having
    flushed the run's output and moved fds 0-2 off the client's terminal: to /dev/null and
    the daemon's log (``log_fd``). What is left (Prefect's last logs and events sent at
    exit) then costs the client nothing; a failure there lands in the daemon's log. SIGHUP
    and SIGINT are ignored from here: the terminal they would come from is no longer the
    run's."""
    _flush_std_streams()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.write(ended, str(code).encode())
    os.close(ended)


def finish(code: int) -> int:
    """End as the interpreter ends, less its teardown of every module: wait for the
    non-daemon threads and run the threading and atexit hooks (Prefect sends its last logs
    and events there), flush, and return the code for ``os._exit``. A forked
    ``multiprocessing`` child ends the same way; the full teardown cost about 0.2 s and
    copies of most of the daemon's memory pages (every object it decrefs)."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # Py_Finalize's first step
        atexit._run_exitfuncs()
    finally:
        _flush_std_streams()
    return code


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
