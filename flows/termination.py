"""SIGTERM or SIGHUP during ``assay run`` ends the run as Ctrl-C does, not mid-line.

A container's stop, ``timeout``, systemd or a CI cancel sends SIGTERM; a closed terminal (or
the run daemon, when a run's client hangs up) sends SIGHUP. Their default action killed the
process at once. Nothing published was lost that way (a run commits once, at its end, and
the next run clears what a dead one staged), but a flow run the CLI records through
Prefect's REST API stayed Running on the server for good, and the command ended without a
word. Prefect's own flow engine turns SIGTERM into an exception for the same reason
(``prefect.utilities.engine.capture_sigterm``). Here the first such signal raises
``Terminated`` in the main thread: the run unwinds as on Ctrl-C, the recorded flow run and
its running task run end Crashed, and the CLI says so in one line and exits 128 + the
signal's number (143, 129: what a shell reports for a process the signal ended). A second
one takes the default action, for a run whose unwinding itself hangs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# SIGHUP is POSIX only
HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """A terminating signal, raised where Ctrl-C's KeyboardInterrupt would be, so that every
    path that ends a run on Ctrl-C (Dask's scheduler, the recorded flow run's Crashed state)
    ends it on that signal too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process the signal ended."""
        return 128 + self.signum

    def __reduce__(self) -> tuple[type[Terminated], tuple[int]]:  # args hold the name
        return Terminated, (self.signum,)


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process
    raise Terminated(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Inside, the first SIGTERM or SIGHUP raises ``Terminated`` (in the main thread, the
    only one a handler can be set from; elsewhere nothing changes); the previous handlers
    after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
