"""The committed ``prefect.yaml`` deploys with ``prefect deploy`` to a process work pool:
the deployments get their parameters, schedule and upload trigger."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


def _prefect(api: str, *args: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([PREFECT, "--no-prompt", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prefect_deploy_registers_every_pipeline(prefect_api: str) -> None:
    _prefect(prefect_api, "work-pool", "create", "assay", "--type", "process", "--overwrite")
    _prefect(prefect_api, "deploy", "--all")
    deployments = {d["name"]: d for d in httpx.post(f"{prefect_api}/deployments/filter",
                                                    json={}).json()}
    events = deployments["events"]
    assert events["work_pool_name"] == "assay" and events["entrypoint"] == \
        "flows/ingest.py:ingest"
    assert events["parameters"] == {"spec_path": "data_samples/events/pipeline.yaml",
                                    "sweep": True}
    assert [s["schedule"]["cron"] for s in events["schedules"]] == ["0 * * * *"]
    automations = {a["name"]: a for a in httpx.post(f"{prefect_api}/automations/filter",
                                                    json={}).json()}
    trigger = next(a for a in automations.values()
                   if a["actions"][0].get("deployment_id") == deployments["records"]["id"])
    assert trigger["trigger"]["match"]["assay.pipeline"] == "records"
    assert trigger["trigger"]["expect"] == ["assay.upload.received"]
    assert trigger["actions"][0]["parameters"]["upload_id"] == "{{ event.payload.upload_id }}"
