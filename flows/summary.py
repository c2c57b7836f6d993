"""The run summary rendered for people: rich tables for the terminal, markdown for the
Prefect artifact. Both render ``RunSummary.rows()`` and ``RunSummary.reasons()``, so they can
never disagree.

Nothing is cut: a value too wide for the terminal folds onto the next line, and where stdout
is no terminal (a pipe, a log file) the tables are printed at their natural width rather than
rich's default 80 columns. Reasons, the longest cells, have a table of their own.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table

from assay.pipelines.summary import RunSummary


def to_table(summary: RunSummary) -> Group:
    """The summary table, then (when any row was quarantined or dropped) the reasons."""
    table = Table(title=f"assay run: {summary.pipeline}", show_header=False, title_justify="left")
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    for label, value in summary.rows():
        table.add_row(label, value)
    reasons = summary.reasons()
    if not reasons:
        return Group(table)
    why = Table(title="rows quarantined or dropped, by reason", title_justify="left")
    why.add_column("fate", no_wrap=True)
    why.add_column("reason", overflow="fold")
    why.add_column("rows", justify="right", no_wrap=True)
    for row in reasons:
        why.add_row(*row)
    return Group(table, why)


def print_summary(console: Console, summary: RunSummary) -> None:
    """Print the tables; off a terminal, as wide as they need to be (no cut paths)."""
    tables = to_table(summary)
    if console.is_terminal:
        console.print(tables)
        return
    wide = console.options.update_width(10_000)
    for table in tables.renderables:  # rich caps a print's width at the console's
        width = Measurement.get(console, wide, table).maximum
        Console(file=console.file, width=width, no_color=console.no_color).print(table)


def to_markdown(summary: RunSummary) -> str:
    lines = [f"# assay run: {summary.pipeline}", "", "| | |", "| --- | ---: |"]
    lines += [f"| {_md(label)} | {_md(value)} |" for label, value in summary.rows()]
    if reasons := summary.reasons():
        lines += ["", "## Rows quarantined or dropped, by reason", "",
                  "| fate | reason | rows |", "| --- | --- | ---: |"]
        lines += [f"| {' | '.join(_md(cell) for cell in row)} |" for row in reasons]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Escape a table cell (pipes)."""
    return text.replace("|", "\\|")
