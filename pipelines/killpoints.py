"""A test hook: hold a run at a named point so a fault test can kill it exactly there.

With ``ASSAY_TEST_PAUSE=<point>:<marker file>`` set, the first thread or process to reach
``<point>`` creates the marker (holding its process id) and sleeps, waiting for the test's
SIGKILL; later arrivals pass, since the marker exists. Unset (always, outside the fault
tests) ``reached`` reads one environment variable and returns. The points, in run order:

- ``read``: a block of an upload is about to be read (the staging folder exists);
- ``staging-write``: a partition has written its shards to staging;
- ``before-commit``: the shards are in the table folder and the manifest is written, but
  no commit lists them;
- ``committed``: the version is committed; the quarantine commit and the upload ledger's
  update are still to come.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

VARIABLE = "ASSAY_TEST_PAUSE"
POINTS = ("read", "staging-write", "before-commit", "committed")
_HOLD_SECONDS = 600  # long enough for any test to kill us; never forever


def reached(point: str) -> None:
    """Hold here if the fault test asked for this point and nobody has held here yet."""
    setting = os.environ.get(VARIABLE)
    if not setting:
        return
    wanted, _, marker = setting.partition(":")
    if wanted != point:
        return
    draft = Path(f"{marker}.{os.getpid()}.{threading.get_ident()}.tmp")
    draft.write_text(str(os.getpid()))
    try:
        os.link(draft, marker)  # atomic: exactly one holder, and its pid is already written
    except FileExistsError:
        return
    finally:
        draft.unlink()
    time.sleep(_HOLD_SECONDS)
