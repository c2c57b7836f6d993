"""Is a Prefect server configured for runs to report to? Prefect's own settings answer.

``assay run`` reports to Prefect when a server is configured, and runs the same phases
without Prefect otherwise (its temporary server would cost 5-8 s to record a run nobody can
see). Prefect reads ``PREFECT_API_URL`` from the environment, its profiles, ``prefect.toml``
and ``pyproject.toml``; importing its settings to ask costs about a second, so the question
goes to a side process started first, which answers while this one imports the engine and
reads the spec (two cores: no wall time). A process that already imported Prefect (a
Prefect test harness, an embedding program) is asked directly. And where none of those
places could name a URL (no such variable, no ``.env`` or ``prefect.toml`` here, no
``[tool.prefect]`` in ``pyproject.toml``, no profile that mentions ``PREFECT_API_URL``) the
answer is no without asking: the side process costs about 1.4 s of CPU, which on a small
machine is wall time too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

_ASK = ("from prefect.settings import PREFECT_API_URL\n"
        "print(PREFECT_API_URL.value() or '')")
PROBE_TIMEOUT_SECONDS = 60.0
# variables that could name a server, or choose Prefect's bundled "local" profile, which does
_NAMING_VARIABLES = frozenset({"PREFECT_API_URL", "PREFECT_API", "PREFECT_PROFILE"})


def may_name_a_server() -> bool:
    """Whether any place Prefect reads ``PREFECT_API_URL`` from could hold one: a variable
    (in any case), an ``.env`` or ``prefect.toml`` in this folder, a ``[tool.prefect]``
    table in its ``pyproject.toml``, a profiles file (``PREFECT_PROFILES_PATH``,
    ``$PREFECT_HOME`` or ``~/.prefect``) that mentions the URL. Deliberately coarse: a yes
    only means Prefect is asked."""
    if any(name.upper() in _NAMING_VARIABLES for name in os.environ):
        return True
    if Path(".env").exists() or Path("prefect.toml").exists():
        return True
    try:
        pyproject = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        pyproject = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    tool = pyproject.get("tool")
    if isinstance(tool, dict) and "prefect" in tool:
        return True
    profiles = [Path.home() / ".prefect" / "profiles.toml"]
    if home := os.environ.get("PREFECT_HOME"):
        profiles.append(Path(home) / "profiles.toml")
    if path := os.environ.get("PREFECT_PROFILES_PATH"):
        profiles.append(Path(path))
    return any(_mentions_api_url(path) for path in profiles)


def _mentions_api_url(path: Path) -> bool:
    """A profiles file that names the URL in any profile (an unreadable one: maybe)."""
    try:
        return "PREFECT_API_URL" in path.read_text(encoding="utf-8", errors="replace").upper()
    except FileNotFoundError:
        return False
    except OSError:
        return True


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
        elif not may_name_a_server():
            self._known = False
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
