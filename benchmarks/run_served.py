"""How long a served upload waits: ``assay serve`` against a real ``prefect server start``,
a tiny pipeline, HTTP uploads through the intake app until each is published.

Measured per upload: seconds from its POST to its published version; per flow run, its
Prefect state timestamps (created, pending, submitting, running, completed), so the time
the runner spends starting the run's process shows as submitting -> running. The server
and ``assay serve`` start first and are not counted; the first uploads wait for the
forkserver's imports, so ``--settle`` seconds pass before the first one.

    python benchmarks/run_served.py                     # 6 uploads, --poll 1
    python benchmarks/run_served.py --poll 5 --uploads 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prefect.settings import PREFECT_API_URL, temporary_settings

from assay.flows.api import create_app
from assay.flows.server import local_server, stop
from assay.pipelines.registry import load_pipelines

ASSAY = str(Path(sys.executable).parent / "assay")
TOKEN = "bench"
SPEC = """\
name: served
source:
  paths: [incoming/]
schema:
  columns:
    - {name: id, type: int64, nullable: false}
    - {name: city, type: string}
sink:
  path: out
cluster:
  workers: 1
  processes: false
intake: {max_bytes: 4096}
"""
STATES = ("Pending", "Submitting", "Running", "Completed")


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise TimeoutError(f"no {what} after {timeout} s")


def _phases(api: str, flow_run_id: str) -> dict[str, float]:
    """Seconds from the flow run's creation to each of its states."""
    run = httpx.get(f"{api}/flow_runs/{flow_run_id}").json()
    created = datetime.fromisoformat(run["created"]).timestamp()
    states = httpx.get(f"{api}/flow_run_states/", params={"flow_run_id": flow_run_id}).json()
    return {s["name"]: round(datetime.fromisoformat(s["timestamp"]).timestamp() - created, 3)
            for s in states if s["name"] in STATES}


def measure(uploads: int, poll: float, settle: float) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        home = root / "pipelines" / "served"
        (home / "incoming").mkdir(parents=True)
        (home / "pipeline.yaml").write_text(SPEC)
        data_dir = root / "data"
        with local_server(root) as api:
            env = {**os.environ, "PREFECT_API_URL": api, "ASSAY_DATA_DIR": str(data_dir)}
            with open(root / "serve.log", "wb") as log:
                serving = subprocess.Popen([ASSAY, "serve", str(home.parent), "--poll",
                                            str(poll)], env=env, stdout=log,
                                           stderr=subprocess.STDOUT)
            try:
                _wait(lambda: httpx.post(f"{api}/automations/filter", json={}).json(), 120,
                      "upload trigger")
                time.sleep(settle)
                return _uploads(api, root, data_dir, uploads)
            finally:
                stop(serving, timeout=30)


def _uploads(api: str, root: Path, data_dir: Path, count: int) -> dict:
    app = create_app(load_pipelines(root / "pipelines"), data_dir, {"*": [TOKEN]})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    waits, phases = [], []
    # the intake sends its events to that server
    with temporary_settings(updates={PREFECT_API_URL: api}), TestClient(app) as client:
        for i in range(count):
            started = time.monotonic()
            upload = client.post("/v1/pipelines/served/uploads", params={"filename": "u.csv"},
                                 content=f"id,city\n{i},Hue\n".encode(), headers=auth).json()

            def settled(upload_id: str = upload["upload_id"]) -> dict | None:
                status = client.get(f"/v1/uploads/{upload_id}", headers=auth).json()
                return status if status["state"] in ("published", "rejected") else None

            status = _wait(settled, 120, "published upload")
            waits.append(round(time.monotonic() - started, 3))
            if status["state"] != "published":
                raise RuntimeError(f"upload {i} was {status['state']}: {status}")
            if status.get("flow_run_id"):
                phases.append(_phases(api, status["flow_run_id"]))
    return {"post_to_published_s": waits, "median_s": statistics.median(waits),
            "flow_run_phases_s": phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=6)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds between serving and the first upload")
    args = parser.parse_args()
    result = measure(args.uploads, args.poll, args.settle)
    for phases in result["flow_run_phases_s"]:
        print("flow run: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
    print(f"POST to published: {result['post_to_published_s']} (median "
          f"{result['median_s']:.2f} s, --poll {args.poll})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
