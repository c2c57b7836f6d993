"""The ``assay`` console script: a thin launcher in front of the typer app.

``assay run`` goes to a running ``assay daemon`` (which has pandas, Dask and Prefect
imported already) unless ``--no-daemon`` or ``ASSAY_DAEMON=off``; every other command,
and ``run`` when no daemon answers, runs in this process as before. This module imports
only the standard library until it knows which.
"""

from __future__ import annotations

import os
import sys

NO_DAEMON = "--no-daemon"
DAEMON_ENV = "ASSAY_DAEMON"  # "off": every command runs in its own process


def wants_daemon(argv: list[str]) -> bool:
    """Only ``assay run``, and only when neither the flag nor the variable says no."""
    return (argv[:1] == ["run"] and NO_DAEMON not in argv
            and os.environ.get(DAEMON_ENV, "").lower() != "off"
            and os.name == "posix")


def verbose_in(argv: list[str]) -> bool:
    """Whether the command asks for ``--verbose`` (``-v``): the launcher and the daemon's
    child decide before typer parses anything."""
    return "--verbose" in argv or "-v" in argv


def main() -> None:
    argv = sys.argv[1:]
    if wants_daemon(argv):
        from assay.flows.daemon_client import run_via_daemon

        code = run_via_daemon(argv, verbose=verbose_in(argv))
        if code is not None:
            sys.exit(code)
    from assay.flows.import_phase import collector_paused
    from assay.flows.lean_dask import import_dask_lean

    with collector_paused():
        import_dask_lean()
        from assay.flows.cli import app

    app(prog_name="assay")


if __name__ == "__main__":
    main()
