"""A fake engine for flow and CLI tests: the flow's wiring, retries and error mapping are
tested without Dask work; the end-to-end tests use the real engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assay.pipelines.accounting import Accounting

TINY_SPEC = """\
name: {name}
source:
  paths: [data.csv]
schema:
  columns:
    - {{name: id, type: int64, nullable: false}}
    - {{name: city, type: string}}
sink:
  path: out
cluster:
  workers: 1
  processes: false
"""

TINY_CSV = "id,city\n1,Oslo\n2,Lima\n3,Pune\nx,Bad\n2,Lima\n"


def write_tiny_pipeline(folder: Path, name: str = "tiny") -> Path:
    """A small valid spec and its CSV (one row with a non-integer id) in ``folder``."""
    (folder / "data.csv").write_text(TINY_CSV)
    spec = folder / "pipeline.yaml"
    spec.write_text(TINY_SPEC.format(name=name))
    return spec


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    return write_tiny_pipeline(tmp_path)


@pytest.fixture
def tiny_pipeline() -> Callable[..., Path]:
    """``tiny_pipeline(folder, name="tiny")`` writes a spec and its CSV, returns the spec."""
    return write_tiny_pipeline


@dataclass
class FakeEngine:
    """Stands in for the engine under the composer (plan, cluster, runner, publish);
    ``fail[stage]`` lists exceptions that stage raises on its first calls, before it
    succeeds."""

    fail: dict[str, list[BaseException]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    cluster_closed: bool = False
    flow_run_name: str | None = None
    progress: list[tuple[int, int]] = field(default_factory=list)

    def _enter(self, stage: str) -> None:
        self.calls[stage] += 1
        pending = self.fail.get(stage)
        if pending:
            raise pending.pop(0)

    def plan_run(self, spec: Any, inputs: list[str] | None = None, output: str | None = None,
                 roots: Any = None, mode: str = "overwrite"):
        self._enter("plan")
        return SimpleNamespace(spec=spec, run_id="run-1", inputs=[], sink_path=output or "out",
                               mode=mode)

    @contextmanager
    def dask_client(
        self, cluster: Any, *, workers: int | None = None, address: str | None = None,
        backend: str = "pandas", heap_temporaries: bool = False,
    ) -> Iterator[str]:
        try:
            yield "fake-client"
        finally:
            self.cluster_closed = True

    def execute_run(self, plan: Any, client: Any, on_progress: Any = None,
                    backend: str = "pandas"):
        from prefect.runtime import flow_run

        self._enter("engine")
        self.flow_run_name = flow_run.name
        for done in (1, 2):
            if on_progress:
                on_progress(done, 2)
        return SimpleNamespace(
            plan=plan,
            accounting=Accounting(
                rows_read=10,
                rows_written=7,
                rows_quarantined=2,
                rows_dropped=1,
                quarantined_by_reason={"schema: id is not an int64": 2},
                quarantined_by_stage={"schema": 2},
                dropped_by_step={"dedup": 1},
                rows_by_input={"data.csv": 10},
            ),
            shards=[{"path": "part-00000.parquet", "rows": 7, "bytes": 2048, "sha256": "0"}],
            gates=[{"name": "basic", "success": True, "policy": "quarantine", "statistics": {}}],
            backend="pandas",
            wall_seconds=2.0,
        )

    def publish_run(self, staged: Any):
        self._enter("publish")
        return SimpleNamespace(version=0, path="/data/out", manifest={"rows": 7})


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> FakeEngine:
    import assay.flows.ingest
    from assay.pipelines import cluster, compose

    engine = FakeEngine()
    for name in ("plan_run", "execute_run", "publish_run"):
        monkeypatch.setattr(compose, name, getattr(engine, name))
    monkeypatch.setattr(cluster, "dask_client", engine.dask_client)
    monkeypatch.setattr(compose, "runs_in_process", lambda *args: False)  # the fake's plan
    for io_task in (assay.flows.ingest.plan_inputs, assay.flows.ingest.run_engine,
                    assay.flows.ingest.publish_version):
        monkeypatch.setattr(io_task, "retry_delay_seconds", 0)
    return engine
