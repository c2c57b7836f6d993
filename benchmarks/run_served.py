"""How long a served upload waits: ``assay serve`` against a real ``prefect server start``,
a tiny pipeline, HTTP uploads through the intake app until each is published.

Measured per upload: seconds from its POST to its published version; per flow run, its
Prefect state timestamps (created, pending, submitting, running, completed), so the time
the runner spends starting the run's process shows as submitting -> running. The server
and ``assay serve`` start first and are not counted (the orchestration tests' ``serving``
and ``client_for``, which also resend a lost trigger after 20 s rather than 60); the first
uploads would wait for the forkserver's imports, so ``--settle`` seconds pass before the
first one.

    python benchmarks/run_served.py                     # 6 uploads, --poll 1
    python benchmarks/run_served.py --poll 5 --uploads 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from prefect.settings import PREFECT_API_URL, temporary_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests

from assay.flows.server import local_server
from tests.orchestration.conftest import (
    AUTH,
    add_pipeline,
    client_for,
    serving,
    wait_for,
)

STATES = ("Pending", "Submitting", "Running", "Completed")


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
        pipelines = root / "pipelines"
        name = add_pipeline(pipelines)
        # the intake sends its events to that server
        with local_server(root) as api, temporary_settings(updates={PREFECT_API_URL: api}), \
                serving(pipelines, api, poll=poll) as data_dir:
            time.sleep(settle)
            with client_for(pipelines, data_dir) as client:
                return _uploads(client, api, name, uploads)


def _uploads(client, api: str, name: str, count: int) -> dict:
    waits, phases = [], []
    for i in range(count):
        started = time.monotonic()
        upload = client.post(f"/v1/pipelines/{name}/uploads", params={"filename": "u.csv"},
                             content=f"id,city\n{i},Hue\n".encode(), headers=AUTH).json()

        def settled(upload_id: str = upload["upload_id"]) -> dict | None:
            status = client.get(f"/v1/uploads/{upload_id}", headers=AUTH).json()
            return status if status["state"] in ("published", "rejected") else None

        status = wait_for(settled, 120, "the upload to be published")
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
