"""SIGTERM during ``assay run`` ends the run as Ctrl-C does, not in the middle of a line.

A container's stop, ``timeout``, systemd or a CI cancel sends SIGTERM, whose default action
killed the process at once. Nothing published was lost that way (a run commits once, at its
end, and the next run clears what a dead one staged), but a flow run the CLI records
through Prefect's REST API stayed Running on the server for good, and the command ended
without a word. Prefect's own flow engine turns SIGTERM into an exception for the same
reason (``prefect.utilities.engine.capture_sigterm``). Here the first SIGTERM raises
``Terminated`` in the main thread: the run unwinds as on Ctrl-C, the recorded flow run and
its running task run end Crashed, and the CLI says so in one line and exits 143 (128 + 15,
what a shell reports for a process SIGTERM ended). A second SIGTERM takes the default
action, for a run whose unwinding itself hangs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that every path that
    ends a run on Ctrl-C (Dask's scheduler, the recorded flow run's Crashed state) ends it
    on SIGTERM too."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the process
    raise Terminated("SIGTERM")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside, the first SIGTERM raises ``Terminated`` (in the main thread, the only one a
    handler can be set from; elsewhere nothing changes); the previous handler after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
