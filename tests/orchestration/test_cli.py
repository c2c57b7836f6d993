"""The orchestration commands as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.orchestration.conftest import ASSAY, add_pipeline


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "ASSAY_API_TOKENS")}
    return {**env, "ASSAY_DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.mark.slow
def test_serve_starts_and_stops_its_own_prefect_server(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    name = add_pipeline(folder)
    child = subprocess.Popen([ASSAY, "serve", str(folder)], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("prefect server: http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx.get(f"{url}/health").status_code == 200
        assert child.stdout.readline().strip() == f"serving deployment ingest/{name}"
        assert (tmp_path / "data" / "prefect").is_dir()
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


def test_api_without_tokens_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    add_pipeline(folder)
    done = subprocess.run([ASSAY, "api", str(folder)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: no API tokens: pass --tokens FILE or set $ASSAY_API_TOKENS")


def test_serve_refuses_a_folder_without_specs(tmp_path: Path) -> None:
    done = subprocess.run([ASSAY, "serve", str(tmp_path)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no pipeline specs" in done.stderr and "Traceback" not in done.stderr
