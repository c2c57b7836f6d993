"""The run summary rendered for people: a rich table for the terminal, markdown for the
Prefect artifact. Both render ``RunSummary.rows()``, so they can never disagree."""

from __future__ import annotations

from rich.table import Table

from assay.pipelines.summary import RunSummary


def to_table(summary: RunSummary) -> Table:
    table = Table(title=f"assay run: {summary.pipeline}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for label, value in summary.rows():
        style = "red" if value.startswith("FAILED") else None
        table.add_row(label, value, style=style)
    return table


def to_markdown(summary: RunSummary) -> str:
    lines = [f"# assay run: {summary.pipeline}", "", "| | |", "| --- | ---: |"]
    lines += [f"| {_md(label)} | {_md(value)} |" for label, value in summary.rows()]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Escape a table cell (pipes) and keep indentation visible."""
    stripped = text.lstrip(" ")
    indent = "&nbsp;" * (len(text) - len(stripped))
    return indent + stripped.replace("|", "\\|")
