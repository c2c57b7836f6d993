"""A run killed with SIGKILL while writing staging leaves LATEST on the previous version,
readable; the next run cleans the leftovers and publishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

RUNNER = """
import sys
from pipelines.spec import load_spec
from pipelines.publish import run_pipeline
spec = load_spec(sys.argv[1])
run_pipeline(spec)
"""
SPEC = """
name: killed
source: {paths: [uploads], block_size: 200KiB}
schema:
  columns:
    - {name: id, type: int64}
    - {name: text}
steps:
  - {op: normalize, columns: [text], case: upper}
sink: {path: out, target_shard_bytes: 64KiB, row_group_rows: 2000}
cluster: {workers: 1, processes: false}
"""


def _run(spec: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(spec)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_during_staging_keeps_latest(tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    small = "id,text\n" + "".join(f"{i},row {i}\n" for i in range(1000))
    (tmp_path / "uploads" / "a.csv").write_text(small)
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(SPEC)
    first = _run(spec)
    assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    sink = tmp_path / "out"
    assert (sink / "LATEST").read_text().strip() == "v000001"

    big = "id,text\n" + "".join(f"{i},some longer text for row {i}\n" for i in range(400_000))
    (tmp_path / "uploads" / "a.csv").write_text(big)
    second = _run(spec)
    deadline = time.monotonic() + 120
    while not list(sink.glob("_staging/*/shards/*.parquet")):
        assert second.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)

    assert (sink / "LATEST").read_text().strip() == "v000001"
    assert sorted(p.name for p in sink.glob("v*")) == ["v000001"]
    manifest = json.loads((sink / "v000001" / "manifest.json").read_text())
    assert pq.read_table(sink / "v000001" / manifest["shards"][0]["path"]).num_rows > 0
    assert list((sink / "_staging").iterdir())  # the killed run's leftovers

    third = _run(spec)
    assert third.wait(timeout=300) == 0, third.stderr.read().decode()
    assert (sink / "LATEST").read_text().strip() == "v000002"
    assert not list((sink / "_staging").iterdir())
    latest = json.loads((sink / "v000002" / "manifest.json").read_text())
    assert latest["rows"] == 400_000
