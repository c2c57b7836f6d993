"""The run summary as people see it: nothing cut off a terminal, reasons in a table of
their own, the same rows in the Prefect artifact's markdown."""

from __future__ import annotations

import io
import re

from rich.console import Console

from assay.flows.summary import print_summary, to_markdown
from assay.pipelines.summary import GateOutcome, RunSummary

LONG_PATH = "/data/curated/" + "/".join(["a-rather-long-folder-name"] * 5) + "/events"
REASON = ("quality: expect_column_value_lengths_to_be_between(text_with_a_long_column_name)")
SUMMARY = RunSummary(
    pipeline="events", run_id="20261203T060453Z-4819f95e", backend="pandas", rows_read=3008,
    rows_written=2983, quarantined=20, wall_seconds=1.2, shards=1, shard_bytes=98_000,
    version=3, path=LONG_PATH,
    quarantined_by_reason={REASON: 1, "read: malformed: expected 6 fields, found 5": 19},
    dropped_by_step={"dedup": 5},
    gates=[GateOutcome("quality", False, "quarantine", 2, ("expect_x",))])


def _printed(terminal: bool, width: int = 80) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None)
    print_summary(console, SUMMARY)
    return out.getvalue()


def test_off_a_terminal_nothing_is_cut_at_80_columns() -> None:
    text = _printed(terminal=False)

    assert "…" not in text
    assert f"│ {LONG_PATH} │" in text  # the whole path, on one line
    assert f"│ quarantined │ {REASON} │    1 │" in text  # a reason, whole, in its own table
    assert "│ dropped     │ by dedup" in text
    assert re.search(r"│ gate quality +│ +quarantined 2 rows │", text)


def test_on_a_narrow_terminal_values_fold_rather_than_end_in_an_ellipsis() -> None:
    text = _printed(terminal=True, width=60)

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 60
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("│ path "))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("└"))
    folded = "".join(line.split("│")[2].strip() for line in lines[start:end])
    assert folded == LONG_PATH  # folded over lines, every character kept


def test_markdown_has_the_same_rows_and_the_reasons_table() -> None:
    markdown = to_markdown(SUMMARY)

    assert f"| path | {LONG_PATH} |" in markdown
    assert "| gate quality | quarantined 2 rows |" in markdown
    assert f"| quarantined | {REASON} | 1 |" in markdown
    assert "| dropped | by dedup | 5 |" in markdown


def test_counts_by_step_show_what_was_found_and_leave_zeros_to_the_manifest():
    from dataclasses import replace

    counted = replace(SUMMARY, counts_by_step={"pii": {"email": 1_204, "ip": 0, "phone": 3},
                                               "pii_ids": {"iban": 0}})
    rows = dict(counted.rows())
    assert rows["counted by pii"] == "email 1,204, phone 3"
    assert rows["counted by pii_ids"] == "none"
    assert "| counted by pii | email 1,204, phone 3 |" in to_markdown(counted)


def test_a_run_without_a_cluster_says_so_and_a_cluster_run_has_no_such_row() -> None:
    from dataclasses import replace

    from assay.pipelines.in_process import summary_line

    line = summary_line(2)
    assert "cluster" not in dict(SUMMARY.rows())
    small = replace(SUMMARY, cluster=line)
    assert dict(small.rows())["cluster"] == line
    assert f"| cluster | {line} |" in to_markdown(small)
