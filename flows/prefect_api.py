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

The same answer says how to call that server (``PrefectServer``: its URL, the client's
headers and TLS settings), so that ``assay run`` can record its flow run through Prefect's
REST API without importing Prefect (``assay.flows.recorded_run``). Where the URL comes from
the environment and nothing else could change how Prefect's client talks to it, that is
read here; otherwise the side process reads Prefect's settings; settings it cannot read
leave the run to Prefect's engine, which reports their problem.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ASK = "from assay.flows.prefect_api import print_settings; print_settings()"
PROBE_TIMEOUT_SECONDS = 60.0
# variables that could name a server, or choose Prefect's bundled "local" profile, which does
_NAMING_VARIABLES = frozenset({"PREFECT_API_URL", "PREFECT_API", "PREFECT_PROFILE"})
# variables read here for the REST API, and ones that cannot change how a client calls it
# (console logging, a server's own settings, where the files checked below are)
_READ_HERE = frozenset({"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"})
_CLIENT_NEUTRAL = frozenset({"PREFECT_HOME", "PREFECT_PROFILES_PATH"})
_NEUTRAL_PREFIXES = ("PREFECT_LOGGING_", "PREFECT_SERVER_")
_SENDING_PREFIX = "PREFECT_LOGGING_TO_API_"  # whether runs send their logs: Prefect's to say
# words of client settings a profiles file may hold (a key, headers, TLS, a timeout, the
# heartbeats, logs sent or not)
_CLIENT_WORDS = ("KEY", "AUTH", "HEADER", "TLS", "SSL", "TIMEOUT", "HTTP2", "HEARTBEAT",
                 "TO_API")


DEFAULT_HEARTBEAT_SECONDS = 180  # Prefect's flows.heartbeat_frequency
DEFAULT_TIMEOUT_SECONDS = 60.0  # Prefect's api.request_timeout


@dataclass(frozen=True)
class PrefectServer:
    """How Prefect's client would call the configured server: its API URL, the headers it
    adds (a Cloud API key, a self-hosted server's basic auth, custom headers) and its TLS
    verification (True: the default CAs; a CA bundle's path; False: none); how often a
    flow run sends heartbeats, and whether it sends its logs."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    heartbeat_seconds: int | None = DEFAULT_HEARTBEAT_SECONDS  # None: no heartbeats
    send_logs: bool = True  # PREFECT_LOGGING_TO_API_ENABLED


def _server_of(url: str, key: str | None, auth: str | None, headers: dict[str, str],
               insecure: bool, ca_file: str | None, timeout: float,
               heartbeat_seconds: int | None = DEFAULT_HEARTBEAT_SECONDS,
               send_logs: bool = True) -> PrefectServer:
    """As Prefect's client builds its headers: the API key's bearer token first, else the
    auth string as basic auth, beside the custom headers."""
    headers = dict(headers)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    elif auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    verify: bool | str = False if insecure else (ca_file or True)
    return PrefectServer(url.rstrip("/"), headers, verify, timeout, heartbeat_seconds,
                         send_logs)


def _settings_answer() -> dict[str, Any]:
    """Prefect's current settings, as much of them as the REST API needs (imports Prefect)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    api, client = settings.api, settings.client

    def secret(value: Any) -> str | None:
        return None if value is None else value.get_secret_value()

    return {"url": api.url, "key": secret(api.key), "auth": secret(api.auth_string),
            "headers": dict(client.custom_headers), "insecure": api.tls_insecure_skip_verify,
            "ca_file": api.ssl_cert_file, "timeout": api.request_timeout,
            "heartbeat_seconds": settings.flows.heartbeat_frequency,
            "send_logs": settings.logging.to_api.enabled}


def print_settings() -> None:
    """The side process: ``_settings_answer`` as one JSON line on stdout."""
    print(json.dumps(_settings_answer()))


def _server_from(answer: dict[str, Any]) -> PrefectServer | None:
    if not answer.get("url"):
        return None
    return _server_of(answer["url"], answer.get("key"), answer.get("auth"),
                      answer.get("headers") or {}, bool(answer.get("insecure")),
                      answer.get("ca_file"),
                      float(answer.get("timeout") or DEFAULT_TIMEOUT_SECONDS),
                      answer.get("heartbeat_seconds"),
                      answer.get("send_logs", True) is not False)


def server_from_environment() -> PrefectServer | None:
    """The server ``PREFECT_API_URL`` names, read without Prefect, where nothing else could
    change how Prefect's client calls it: no other Prefect variable than console logging,
    a server's own settings and where profiles are; no ``.env``, ``prefect.toml`` or
    ``[tool.prefect]``; no profiles file naming a key, headers, TLS, a timeout, heartbeats
    or logs sent to the API. None otherwise (Prefect's settings are then asked)."""
    url = os.environ.get("PREFECT_API_URL")
    names = [name.upper() for name in os.environ if name.upper().startswith("PREFECT_")]
    if not url or any(name not in _READ_HERE | _CLIENT_NEUTRAL
                      and (not name.startswith(_NEUTRAL_PREFIXES)
                           or name.startswith(_SENDING_PREFIX)) for name in names):
        return None
    if _project_settings_exist() or any(_mentions(path, _CLIENT_WORDS)
                                        for path in _profiles_files()):
        return None
    return _server_of(url, os.environ.get("PREFECT_API_KEY"),
                      os.environ.get("PREFECT_API_AUTH_STRING"), {}, False,
                      os.environ.get("SSL_CERT_FILE"),  # Prefect's own default
                      DEFAULT_TIMEOUT_SECONDS)


def may_name_a_server() -> bool:
    """Whether any place Prefect reads ``PREFECT_API_URL`` from could hold one: a variable
    (in any case), an ``.env`` or ``prefect.toml`` in this folder, a ``[tool.prefect]``
    table in its ``pyproject.toml``, a profiles file (``PREFECT_PROFILES_PATH``,
    ``$PREFECT_HOME`` or ``~/.prefect``) that mentions the URL. Deliberately coarse: a yes
    only means Prefect is asked."""
    if any(name.upper() in _NAMING_VARIABLES for name in os.environ):
        return True
    return _project_settings_exist() or any(_mentions(path, ("PREFECT_API_URL",))
                                            for path in _profiles_files())


def _project_settings_exist() -> bool:
    """An ``.env`` or ``prefect.toml`` in this folder, or a ``[tool.prefect]`` table in its
    ``pyproject.toml`` (an unreadable one: maybe)."""
    if Path(".env").exists() or Path("prefect.toml").exists():
        return True
    try:
        pyproject = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    tool = pyproject.get("tool")
    return isinstance(tool, dict) and "prefect" in tool


def _profiles_files() -> list[Path]:
    profiles = [Path.home() / ".prefect" / "profiles.toml"]
    if home := os.environ.get("PREFECT_HOME"):
        profiles.append(Path(home) / "profiles.toml")
    if path := os.environ.get("PREFECT_PROFILES_PATH"):
        profiles.append(Path(path))
    return profiles


def _mentions(path: Path, words: tuple[str, ...]) -> bool:
    """A profiles file that names any of ``words`` in any profile (an unreadable one:
    maybe)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").upper()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return any(word in text for word in words)


class ApiUrlProbe:
    """Started at once; ``configured()`` waits for the answer, ``server()`` says how to call
    the server. Used as a context manager, a side process still asking when the block ends
    (a spec that failed to load) is stopped rather than left to finish after the command."""

    def __init__(self) -> None:
        self._known: bool | None = None
        self._server: PrefectServer | None = None
        self._child: subprocess.Popen[str] | None = None
        if "prefect.settings" in sys.modules:
            self._server = _server_from(_settings_answer())
            self._known = self._server is not None
        elif (found := server_from_environment()) is not None:
            self._known, self._server = True, found
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
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.communicate()
                self._known = True
                return True
            answer = _parsed(out) if self._child.returncode == 0 else None
            self._server = None if answer is None else _server_from(answer)
            self._known = answer is None or self._server is not None
        return bool(self._known)

    def server(self) -> PrefectServer | None:
        """The configured server and how to call it; None where none is configured, or where
        only Prefect can read its settings."""
        self.configured()
        return self._server

    def __enter__(self) -> ApiUrlProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.communicate()


def _parsed(out: str) -> dict[str, Any] | None:
    """The side process's answer: its last line (Prefect may print before it); None where
    there is none to read."""
    lines = out.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return answer if isinstance(answer, dict) else None
