"""Whether a Prefect server is configured, answered without Prefect where nothing could name
one (``flows/prefect_api.py``), checked against Prefect's own settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect.settings import Settings

from assay.flows.prefect_api import ApiUrlProbe, may_name_a_server, server_from_environment

URL = "http://127.0.0.1:9/api"
PROFILE = f'active = "team"\n\n[profiles.team]\nPREFECT_API_URL = "{URL}"\n'


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no Prefect configuration as the working directory, a home without
    ``~/.prefect`` and no Prefect variables."""
    for name in [n for n in os.environ if n.upper().startswith("PREFECT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _prefects_answer() -> str | None:
    return Settings().api.url


def test_nothing_configured_needs_no_question(bare: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    (bare / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 99\n')
    assert not may_name_a_server()
    assert _prefects_answer() is None
    # as in the CLI's fresh process: Prefect not imported yet (in this test process another
    # test's Prefect harness may have put its server in the settings Prefect would report)
    monkeypatch.delitem(sys.modules, "prefect.settings", raising=False)
    probe = ApiUrlProbe()
    assert probe._child is None and not probe.configured()


def _env_file(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / ".env").write_text(f"PREFECT_API_URL={URL}\n")


def _prefect_toml(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "prefect.toml").write_text(f'[api]\nurl = "{URL}"\n')


def _pyproject(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "pyproject.toml").write_text(f'[tool.prefect.api]\nurl = "{URL}"\n')


def _profiles_path(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "mine.toml").write_text(PROFILE)
    mp.setenv("PREFECT_PROFILES_PATH", str(work / "mine.toml"))


def _prefect_home(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "home-p").mkdir()
    (work / "home-p" / "profiles.toml").write_text(PROFILE)
    mp.setenv("PREFECT_HOME", str(work / "home-p"))


def _user_profiles(work: Path, mp: pytest.MonkeyPatch) -> None:
    folder = Path(os.environ["HOME"]) / ".prefect"
    folder.mkdir(parents=True)
    (folder / "profiles.toml").write_text(PROFILE)
    # Prefect took its home from HOME when it was imported
    mp.setattr("prefect.settings.sources.DEFAULT_PREFECT_HOME", folder)


def _bundled_local_profile(work: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("PREFECT_PROFILE", "local")  # Prefect's own profiles.toml names a URL there


@pytest.mark.parametrize("configure", [_env_file, _prefect_toml, _pyproject, _profiles_path,
                                       _prefect_home, _user_profiles, _bundled_local_profile])
def test_every_place_prefect_reads_a_url_from_leads_to_asking(
        bare: Path, monkeypatch: pytest.MonkeyPatch,
        configure: Callable[[Path, pytest.MonkeyPatch], None]) -> None:
    configure(bare, monkeypatch)
    assert _prefects_answer()  # the oracle: Prefect does find a URL there
    assert may_name_a_server()


def _fresh_probe(monkeypatch: pytest.MonkeyPatch) -> ApiUrlProbe:
    """A probe as the CLI's fresh process starts it: Prefect not imported yet."""
    monkeypatch.delitem(sys.modules, "prefect.settings", raising=False)
    return ApiUrlProbe()


@pytest.mark.parametrize(("variables", "authorization"), [
    ({}, None),
    ({"PREFECT_API_KEY": "pnu_k"}, "Bearer pnu_k"),
    ({"PREFECT_API_AUTH_STRING": "admin:pass"}, "Basic YWRtaW46cGFzcw=="),
    ({"PREFECT_API_KEY": "pnu_k", "PREFECT_API_AUTH_STRING": "admin:pass"}, "Bearer pnu_k"),
])
def test_a_url_in_the_environment_is_read_without_prefect(
        bare: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str],
        authorization: str | None) -> None:
    for name, value in {"PREFECT_API_URL": URL + "/", **variables}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")  # the CLI's own
    probe = _fresh_probe(monkeypatch)
    assert probe._child is None and probe.configured()
    server = probe.server()
    assert server == server_from_environment()
    assert server is not None and server.url == URL
    assert server.verify == (Settings().api.ssl_cert_file or True)  # SSL_CERT_FILE, as Prefect
    assert server.headers.get("Authorization") == authorization


def _another_variable(work: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "true")


def _a_key_in_the_profile(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "mine.toml").write_text('active = "team"\n\n[profiles.team]\n'
                                    'PREFECT_API_KEY = "pnu_profile"\n')
    mp.setenv("PREFECT_PROFILES_PATH", str(work / "mine.toml"))


def _headers_in_prefect_toml(work: Path, mp: pytest.MonkeyPatch) -> None:
    (work / "prefect.toml").write_text('[client]\ncustom_headers = {X-Team = "ml"}\n')


def _logs_kept_from_the_api(work: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("PREFECT_LOGGING_TO_API_ENABLED", "false")


@pytest.mark.parametrize("configure", [_another_variable, _a_key_in_the_profile,
                                       _headers_in_prefect_toml, _logs_kept_from_the_api])
def test_anything_else_that_could_change_the_client_is_asked_of_prefect(
        bare: Path, monkeypatch: pytest.MonkeyPatch,
        configure: Callable[[Path, pytest.MonkeyPatch], None]) -> None:
    monkeypatch.setenv("PREFECT_API_URL", URL)
    configure(bare, monkeypatch)
    assert server_from_environment() is None
    probe = _fresh_probe(monkeypatch)
    assert probe._child is not None  # a side process reads Prefect's settings
    settings = Settings()  # the oracle: what Prefect's client would use
    server = probe.server()
    assert server is not None and server.url == URL
    key = settings.api.key.get_secret_value() if settings.api.key else None
    assert server.headers.get("Authorization") == (key and f"Bearer {key}")
    assert {k: v for k, v in server.headers.items() if k != "Authorization"} == \
        settings.client.custom_headers
    assert (server.verify is False) == settings.api.tls_insecure_skip_verify
    assert server.send_logs == settings.logging.to_api.enabled


def test_settings_prefect_cannot_read_leave_the_run_to_prefect(
        bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", URL)
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "often")
    probe = _fresh_probe(monkeypatch)
    assert probe.configured() and probe.server() is None
