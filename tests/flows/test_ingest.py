"""The ingest flow's wiring under a temporary Prefect server, with a fake engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prefect.artifacts import Artifact

from assay.flows.ingest import artifact_key, ingest
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
