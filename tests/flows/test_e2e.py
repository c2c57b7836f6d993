"""End to end: the real engine on a tiny CSV, through the flow and through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.flows.cli import app
from assay.flows.ingest import ingest
from tests.published import manifest_of, rows_of

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_flow_publishes_and_accounts_for_every_row(
    prefect_harness: None, tiny_spec: Path, tmp_path: Path
) -> None:
    spec = tiny_spec
    summary = ingest(str(spec))

    assert summary.rows_read == 5
    assert summary.rows_written == 4
    assert summary.quarantined == 1
    assert list(summary.quarantined_by_reason.values()) == [1]
    assert "id" in next(iter(summary.quarantined_by_reason))
    assert summary.version == 0
    assert manifest_of(summary.path)["rows"] == 4
    assert rows_of(tmp_path / "out").num_rows == 4


def test_cli_run_then_inspect(
    prefect_harness: None, tiny_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    spec = tiny_pipeline(tmp_path, name="cli-e2e")
    output = tmp_path / "elsewhere"

    result = runner.invoke(
        app, ["run", str(spec), "--output", str(output), "--workers", "1"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    table = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert table["rows read"] == "5"
    assert table["rows written"] == "4"
    assert table["rows quarantined"] == "1"
    assert table["version"] == "0 (replaced the dataset: 4 rows)"

    # the engine still publishes version folders: `assay convert` makes them a Delta table
    # (a no-op once publishing writes the table itself)
    assert runner.invoke(app, ["convert", str(output)]).exit_code == 0
    listed = runner.invoke(app, ["inspect", str(output)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    version = listed.stdout.splitlines()[2]
    assert version.startswith("0 ") and version.endswith("latest")
