"""The ingest flow's wiring under a temporary Prefect server, with a fake engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prefect.artifacts import Artifact

from assay.flows.artifacts import artifact_key
from assay.flows.ingest import ingest
from assay.pipelines.errors import AssayError, GateAborted, SpecError, UploadRejected

if TYPE_CHECKING:
    from conftest import FakeEngine


def test_flow_runs_stages_and_returns_summary(fake_engine: FakeEngine, tiny_spec: Path) -> None:
    progress: list[tuple[int, int]] = []
    summary = ingest(str(tiny_spec), on_progress=lambda d, t: progress.append((d, t)))

    assert (summary.rows_read, summary.rows_written, summary.quarantined) == (10, 7, 2)
    assert summary.dropped_by_step == {"dedup": 1}
    assert summary.rows_per_second == 5.0
    assert summary.version == 0
    assert progress == [(1, 2), (2, 2)]
    assert fake_engine.cluster_closed
    assert fake_engine.flow_run_name and fake_engine.flow_run_name.startswith("tiny-")


def test_report_creates_markdown_artifact(
    fake_engine: FakeEngine, tiny_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    ingest(str(tiny_pipeline(tmp_path, name="Artifact_Check")))
    artifact = Artifact.get(artifact_key("Artifact_Check"))

    assert artifact is not None and artifact.type == "markdown"
    assert "| rows written | 7 |" in artifact.data
    assert "| version | 0 (replaced the dataset: 7 rows) |" in artifact.data


@pytest.mark.parametrize("stage", ["plan", "publish"])
def test_io_errors_are_retried(fake_engine: FakeEngine, tiny_spec: Path, stage: str) -> None:
    fake_engine.fail[stage] = [OSError("flaky disk")]
    assert ingest(str(tiny_spec)).version == 0
    assert fake_engine.calls[stage] == 2


@pytest.mark.parametrize(
    ("stage", "error"),
    [
        ("plan", UploadRejected("a.csv: empty")),
        ("engine", GateAborted("gate g failed")),
        ("publish", SpecError("bad")),
    ],
)
def test_assay_errors_propagate_unchanged_and_unretried(
    fake_engine: FakeEngine, tiny_spec: Path, stage: str, error: AssayError
) -> None:
    fake_engine.fail[stage] = [error]
    with pytest.raises(type(error)) as caught:
        ingest(str(tiny_spec))
    assert caught.value is error
    assert fake_engine.calls[stage] == 1
    assert fake_engine.cluster_closed == (stage != "plan")  # torn down even on failure


def test_invalid_spec_raises_spec_error(fake_engine: FakeEngine, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\n")
    with pytest.raises(SpecError):
        ingest(str(spec))
    assert fake_engine.calls["plan"] == 0


def _run_logs(flow_run_id: object) -> list[str]:
    """The run's log lines as the (test) Prefect server keeps them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in sorted(logs, key=lambda log: log.timestamp)]


def test_a_run_logs_what_it_published(fake_engine: FakeEngine, tiny_spec: Path) -> None:
    state = ingest(str(tiny_spec), return_state=True)
    assert state.is_completed()
    assert "/data/out: version 0 (overwrite): 10 rows read, 7 written, 2 quarantined" in \
        _run_logs(state.state_details.flow_run_id)


def test_a_sweep_goes_on_after_a_rejected_upload_and_logs_each(
    fake_engine: FakeEngine, tiny_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    spec = tiny_pipeline(tmp_path, name="sweep_logs")
    spec.write_text(spec.read_text().replace("paths: [data.csv]",
                                             'paths: ["*.csv", "*.csv.gz"]'))
    for name in ("b.csv", "c.csv"):
        (tmp_path / name).write_text(f"id,city\n{name[0]},x\n")
    # the sweep meets b.csv first (in name order): rejected
    fake_engine.fail["plan"] = [UploadRejected("b.csv: missing columns ['city']")]
    state = ingest(str(spec), sweep=True, return_state=True)

    assert state.is_failed() and "(b.csv): rejected: b.csv: missing" in state.message
    assert fake_engine.calls["plan"] == 3  # the two after the rejected one ran too
    logs = "\n".join(_run_logs(state.state_details.flow_run_id))
    assert "*.csv.gz: no such file, or nothing matches" in logs
    assert "*.csv: 3 file(s), 3 new" in logs
    assert "(b.csv) rejected: b.csv: missing columns ['city']" in logs
    assert logs.count("published as version 0") == 2
    assert "2 published, 0 acknowledged (already done or running), 1 not ingested" in logs

    again = ingest(str(spec), sweep=True, return_state=True)  # nothing new: says so
    assert again.is_completed() and fake_engine.calls["plan"] == 3
    logs = "\n".join(_run_logs(again.state_details.flow_run_id))
    assert "*.csv: 3 file(s), 0 new" in logs and "nothing to ingest" in logs
