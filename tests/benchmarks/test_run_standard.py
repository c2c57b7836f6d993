"""The benchmark reads assay's times from the summary the CLI prints."""

from __future__ import annotations

import pytest
from rich.console import Console

from assay.flows.summary import to_table
from assay.pipelines.summary import RunSummary
from benchmarks.run_standard import Measured, summary_times, targets


def test_engine_and_phase_times_are_read_from_the_printed_summary() -> None:
    summary = RunSummary(
        pipeline="p", run_id="r", backend="pandas", rows_read=10, rows_written=9,
        quarantined=1, wall_seconds=12.5, shards=1, shard_bytes=100, version="v000001",
        path="/x", phases={"plan": 1.25, "cluster start": 0.5, "cluster stop": 2.0,
                           "publish": 0.05})
    console = Console(width=200, record=True, color_system=None)
    console.print(to_table(summary))
    assert summary_times(console.export_text()) == (12.5, {
        "plan": 1.25, "cluster start": 0.5, "cluster stop": 2.0, "publish": 0.05})


def test_targets_compare_each_size_and_the_fixed_costs() -> None:
    def size(rows: int, assay_wall: float) -> dict:
        return {"rows": rows, "results": [
            Measured("assay", assay_wall, 900, 0, engine_s=assay_wall / 2),
            Measured("duckdb", 4.0, 1000, 0), Measured("polars", 3.0, 2000, 0)]}

    lines = {what: (measured, limit) for what, measured, limit, _ in targets(
        [size(4_000_000, 4.0), size(16_000_000, 20.0)],
        {"no server": Measured("assay-10-rows", 1.9, 300, 0)})}

    assert lines["4M rows: whole assay run / DuckDB, wall"] == (1.0, 1.0)
    assert lines["16M rows: assay engine / Polars, wall"] == (10.0 / 3.0, 1.3)
    assert lines["4M rows: assay peak memory / DuckDB's"] == (0.9, 1.0)
    assert lines["assay time per row, 16M / 4M rows"] == (pytest.approx(1.25), 1.1)
    assert lines["fixed cost, 10 rows, no server"] == (1.9, 2.0)
    assert lines["fixed cost, 10 rows, running server"] == (None, 1.5)
