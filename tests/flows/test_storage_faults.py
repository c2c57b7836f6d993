"""Storage that fails under a real run: a sink that runs out of space, an object store
whose reads fail for a while or for good, and a bug under the reads that is no storage
failure. Real engine, real flow, the CLI in process (the
faulty filesystems live in this process's fsspec registry; the workers are its threads)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay.flows.ingest
from assay.flows.cli import app
from assay.pipelines import compose, retries
from assay.pipelines.errors import EXIT_INTERNAL, EXIT_STORAGE
from tests.fault_kit import (
    BudgetFileSystem,
    BuggyFileSystem,
    FlakyFileSystem,
    assert_nothing_left,
    assert_same_dataset,
    latest,
    register_faulty_filesystems,
    write_spec,
    write_uploads,
)

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def pipeline(prefect_harness: None, tmp_path: Path) -> Path:
    register_faulty_filesystems()
    write_uploads(tmp_path)
    return write_spec(tmp_path, workers=1)


def _run(spec: Path, *args: str):
    return runner.invoke(app, ["run", str(spec), *args], terminal_width=200)


def _complaints(stderr: str) -> str:
    """What the run said on stderr besides its progress lines."""
    return "".join(line + "\n" for line in stderr.splitlines()
                   if not line.startswith("progress: "))


def test_full_sink_fails_cleanly_with_nothing_published(pipeline: Path, tmp_path: Path
                                                        ) -> None:
    sink = tmp_path / "out"
    assert _run(pipeline, "-o", str(sink)).exit_code == 0
    before = tmp_path / "before"
    before.mkdir()
    (before / "out").symlink_to(sink)  # the reference: version 0 as it was

    BudgetFileSystem.limit(60_000)  # the run's shards alone need ~130 kB
    try:
        full = _run(pipeline, "-o", f"budget://{sink}")
    finally:
        BudgetFileSystem.limit(None)

    assert full.exit_code == EXIT_STORAGE, full.output
    assert re.fullmatch(
        rf"error: budget://{sink}/_assay/staging/[\w-]+: write failed, out of space "
        r"\(OSError: \[Errno 28\] No space left on device: '[^']+\.parquet'\)\n",
        _complaints(full.stderr)), full.stderr
    assert latest(sink) == 0
    assert_nothing_left(sink, 0)
    assert_same_dataset(sink, 0, before / "out", 0)


@pytest.fixture(params=["flow", "without Prefect"])
def run_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI's options for a run as a Prefect flow (its tasks retry) or without Prefect
    (tenacity retries), each with its retry delay cut to nothing."""
    monkeypatch.setattr(assay.flows.ingest.run_engine, "retry_delay_seconds", 0)
    monkeypatch.setattr(retries, "IO_RETRY_DELAY_SECONDS", 0)
    return ["--prefect"] if request.param == "flow" else ["--no-prefect"]


def test_transient_read_errors_are_retried(pipeline: Path, tmp_path: Path,
                                           run_mode: list[str]) -> None:
    uploads = f"flaky://{tmp_path / 'uploads'}"
    FlakyFileSystem.arm(0)
    assert _run(pipeline, "-i", uploads, "-o", str(tmp_path / "reference")).exit_code == 0

    FlakyFileSystem.arm(2)  # within the run's 2 retries
    recovered = _run(pipeline, "-i", uploads, "-o", str(tmp_path / "out"), *run_mode)

    assert recovered.exit_code == 0, recovered.output
    assert FlakyFileSystem.failed == 2
    assert_nothing_left(tmp_path / "out", 0)
    assert_same_dataset(tmp_path / "out", 0, tmp_path / "reference", 0)


def test_permanent_read_error_fails_after_the_retries(pipeline: Path, tmp_path: Path,
                                                      run_mode: list[str]) -> None:
    uploads = tmp_path / "uploads"
    FlakyFileSystem.arm(10**6)
    try:
        failed = _run(pipeline, "-i", f"flaky://{uploads}", "-o", str(tmp_path / "out"),
                      *run_mode)
        met = FlakyFileSystem.failed
    finally:
        FlakyFileSystem.arm(0)

    assert failed.exit_code == EXIT_STORAGE, failed.output
    assert _complaints(failed.stderr) == (f"error: flaky://{uploads}/a.csv: open failed "
                             "(ConnectionResetError: [Errno 104] Connection reset by peer)\n")
    assert met >= 1 + retries.IO_RETRIES  # every attempt met it
    assert latest(tmp_path / "out") is None
    assert not list((tmp_path / "out" / "_assay" / "staging").iterdir())


def test_a_bug_under_a_read_is_an_internal_failure_not_retried(
    pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assay.flows.ingest.run_engine, "retry_delay_seconds", 0)
    attempts = []
    execute_run = compose.execute_run
    monkeypatch.setattr(compose, "execute_run",
                        lambda *a, **k: attempts.append(1) or execute_run(*a, **k))
    BuggyFileSystem.reads = 0
    failed = _run(pipeline, "-i", f"buggy://{tmp_path / 'uploads'}", "-o", str(tmp_path / "out"))

    assert failed.exit_code == EXIT_INTERNAL, failed.output
    assert "error: internal failure: TypeError: read() got an unexpected keyword argument " \
        "'fetch'" in failed.stderr
    assert "Traceback" in failed.stderr and "StorageError" not in failed.stderr
    assert BuggyFileSystem.reads >= 1 and len(attempts) == 1  # the engine ran once
    assert latest(tmp_path / "out") is None
