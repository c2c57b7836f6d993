"""The benchmark reads assay's times from the summary the CLI prints."""

from __future__ import annotations

from rich.console import Console

from assay.flows.summary import to_table
from assay.pipelines.summary import RunSummary
from benchmarks.run_standard import summary_times


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
