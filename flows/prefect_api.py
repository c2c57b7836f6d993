"""Is a Prefect server configured for runs to report to? Prefect's own settings answer.

``assay run`` reports to Prefect when a server is configured, and runs the same phases
without Prefect otherwise (its temporary server would cost 5-8 s to record a run nobody can
see). Prefect reads ``PREFECT_API_URL`` from the environment, its profiles, ``prefect.toml``
and ``pyproject.toml``; importing its settings to ask costs about a second, so the question
goes to a side process started first, which answers while this one imports the engine and
reads the spec (two cores: no wall time). A process that already imported Prefect (a
Prefect test harness, an embedding program) is asked directly.
"""

from __future__ import annotations

import os
import subprocess
import sys

_ASK = ("from prefect.settings import PREFECT_API_URL\n"
        "print(PREFECT_API_URL.value() or '')")
PROBE_TIMEOUT_SECONDS = 60.0


class ApiUrlProbe:
    """Started at once; ``configured()`` waits for the answer. Used as a context manager,
    a side process still asking when the block ends (a spec that failed to load) is
    stopped rather than left to finish after the command."""

    def __init__(self) -> None:
        self._known: bool | None = None
        self._child: subprocess.Popen[str] | None = None
        if "prefect.settings" in sys.modules:
            from prefect.settings import PREFECT_API_URL

            self._known = bool(PREFECT_API_URL.value())
        elif os.environ.get("PREFECT_API_URL"):
            self._known = True
        else:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _ASK], stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)

    def configured(self) -> bool:
        """Whether Prefect's settings name an API URL. When they cannot be read (the probe
        failed or hung), True: the run then goes through Prefect, which reports its own
        settings' problem."""
        if self._known is None and self._child is not None:
            try:
                out, _ = self._child.communicate(timeout=PROBE_TIMEOUT_SECONDS)
                self._known = bool(out.strip()) or self._child.returncode != 0
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.communicate()
                self._known = True
        return bool(self._known)

    def __enter__(self) -> ApiUrlProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.communicate()
