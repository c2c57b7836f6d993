"""The client side of ``assay run`` through a run daemon: hand the command to the daemon
(argv, working folder, environment, umask and this terminal's stdin/stdout/stderr), relay
Ctrl-C and SIGTERM to the run, and end as the run ended. Standard library only.

``run_via_daemon`` returns None whenever the command should run in this process instead:
no daemon, a stale socket, or a daemon that refuses (its code changed since it started).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
from typing import Any

import assay
from assay.flows import daemon_protocol as protocol

_RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def request(argv: list[str]) -> dict[str, Any]:
    """What the daemon's child needs to become this process."""
    umask = os.umask(0)
    os.umask(umask)
    return {"command": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
            "umask": umask, "version": assay.__version__, "python": sys.executable}


def _standard_fds() -> tuple[list[int], list[int]]:
    """This process's fds 0-2 (a closed one replaced by /dev/null), and those opened here."""
    fds, opened = [], []
    for fd in (0, 1, 2):
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            fd = os.open(os.devnull, os.O_RDWR)
            opened.append(fd)
        fds.append(fd)
    return fds, opened


def run_via_daemon(argv: list[str], verbose: bool = False) -> int | None:
    """Run ``assay <argv>`` in the daemon; its exit code, or None to run it here."""
    sock = protocol.connect(protocol.socket_path())
    if sock is None:
        return None
    with sock:
        fds, opened = _standard_fds()
        try:
            protocol.send(sock, request(argv), fds)
            reply, _ = protocol.receive(sock)
        except OSError:
            return None  # the run did not start: it runs here
        finally:
            for fd in opened:
                os.close(fd)
        if "pid" not in reply:
            if verbose:
                print(f"note: {reply.get('refused', 'the assay daemon refused the run')}; "
                      "running in this process", file=sys.stderr, flush=True)
            return None
        return _wait(sock, int(reply["pid"]))


def _wait(sock: Any, pid: int) -> int:
    """Relay signals to the run's process group until the daemon reports how it ended."""
    def relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    previous = {signum: signal.signal(signum, relay) for signum in _RELAYED}
    try:
        ended, _ = protocol.receive(sock)
    except OSError:
        print("error: the assay daemon went away during the run; see its log under "
              f"{protocol.daemon_dir()}", file=sys.stderr, flush=True)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if "signal" in ended:  # end as the run did: killed by the same signal
        signum = int(ended["signal"])
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return int(ended["exit"])
