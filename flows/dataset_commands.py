"""``assay inspect``, ``diff``, ``vacuum`` and ``convert``: looking after a published dataset.

The commands live in a typer app of their own, merged into ``assay``'s (``cli.py`` adds it
with no name). Tables are rich tables on a terminal and plain aligned columns otherwise, so a
pipe gets text that ``grep`` and ``awk`` can take. Errors are one ``error:`` line naming the
path, with the exit codes of the rest of the CLI (2 for a path that is no table, the old
layout, or a version the log lacks).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

if TYPE_CHECKING:
    from assay.pipelines.column_stats import ColumnStats
    from assay.pipelines.table_diff import TableDiff
    from assay.pipelines.table_versions import VersionInfo

dataset_app = typer.Typer()

DatasetArgument = Annotated[
    str,
    typer.Argument(help="The dataset: a spec's sink.path (a folder or fsspec URL).",
                   metavar="DATASET", show_default=False),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show full tracebacks.")
]
_AGE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataset_app.command()
def inspect(dataset: DatasetArgument, verbose: VerboseOption = False) -> None:
    """List a dataset's versions: when, how each came (run, mode, uploads), rows, gates."""
    from assay.flows.cli import _exit_codes

    with _exit_codes(verbose), pipe_may_close():
        from assay.pipelines.table_versions import list_versions

        versions = list_versions(dataset)
        latest = versions[-1].version
        show_table(f"versions of {dataset}",
                   ["version", "committed (UTC)", "how it came", "rows added", "rows",
                    "quarantined", "gates", ""],
                   [_version_row(v, latest) for v in versions], right={3, 4, 5})


@dataset_app.command()
def diff(
    dataset: DatasetArgument,
    a: Annotated[int | None, typer.Argument(
        help="The version to compare from (default: the one before B).", metavar="A",
        show_default=False)] = None,
    b: Annotated[int | None, typer.Argument(
        help="The version to compare to (default: the latest).", metavar="B",
        show_default=False)] = None,
    verbose: VerboseOption = False,
) -> None:
    """Compare two versions: rows added and removed, schema changes, column statistics."""
    from assay.flows.cli import _exit_codes

    with _exit_codes(verbose), pipe_may_close():
        from assay.pipelines.table_diff import diff_versions

        _print_diff(dataset, diff_versions(dataset, a, b))


@dataset_app.command()
def vacuum(
    dataset: DatasetArgument,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=1, metavar="N", show_default=False,
        help="Keep the last N versions.")] = None,
    older_than: Annotated[str | None, typer.Option(
        "--older-than", metavar="AGE", show_default=False,
        help="Keep the versions committed within AGE (30m, 12h, 7d, 2w).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be removed; remove nothing.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Remove the files only older versions read, and files crashed runs left behind.

    The versions kept stay fully readable; the latest is always kept. Holds the dataset's
    lock, as runs do."""
    from assay.flows.cli import _exit_codes, _fail
    from assay.pipelines.errors import EXIT_INVALID_SPEC

    if (keep is None) == (older_than is None):
        _fail("vacuum: give one of --keep N and --older-than AGE")
        raise typer.Exit(EXIT_INVALID_SPEC)
    age = None
    if older_than is not None:
        if not (match := _AGE.match(older_than)):
            _fail(f"--older-than {older_than}: not an age (a number and s, m, h, d or w: 7d)")
            raise typer.Exit(EXIT_INVALID_SPEC)
        age = timedelta(**{_UNITS[match[2]]: int(match[1])})
    with _exit_codes(verbose), pipe_may_close():
        from assay.pipelines.retention import vacuum as vacuum_table

        plan = vacuum_table(dataset, keep=keep, older_than=age, dry_run=dry_run)
        print(f"{dataset}: keeping {_span(plan.kept)}"
              + (f"; {_span(plan.released)} no longer kept" if plan.released else ""))
        verb = "would remove" if dry_run else "removed"
        lines = [f"{verb} {name}" for name in plan.removed]
        lines += [f"{verb} {name} (in no version: left by a run that failed)"
                  for name in plan.orphans]
        print("\n".join(lines or [f"{verb} nothing"]))


@dataset_app.command()
def convert(dataset: DatasetArgument, verbose: VerboseOption = False) -> None:
    """Convert a dataset of version folders (the first release's) into a Delta table.

    Each old version becomes one table version, in order; nothing is lost. Run it again to
    finish a conversion that stopped. Holds the dataset's lock, as runs do."""
    from assay.flows.cli import _exit_codes

    with _exit_codes(verbose), pipe_may_close():
        from assay.pipelines.legacy import convert as convert_dataset

        done = convert_dataset(dataset)
        if not (done.versions or done.aborted or done.left):
            print(f"{dataset}: already a Delta table; nothing to convert")
            return
        for name, version in done.versions:
            print(f"{dataset}: {name} -> version {version}")
        for run_id in done.aborted:
            print(f"{dataset}: run {run_id} (aborted by a gate) -> _assay/runs/{run_id}/")
        for folder in done.left:
            print(f"warning: {folder}: not a run of this dataset; left where it is",
                  file=sys.stderr)


@contextmanager
def pipe_may_close() -> Iterator[None]:
    """A reader that stops early (``assay diff ... | head``) ends the output, quietly: what
    is left to print goes to /dev/null, as Python's docs advise for SIGPIPE."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _version_row(v: VersionInfo, latest: int) -> list[str]:
    status = "latest" if v.version == latest else ""
    if not v.readable:
        status = "files removed"
    return [
        str(v.version),
        v.committed_at.strftime("%Y-%m-%d %H:%M:%S"),
        _origin(v),
        "?" if v.rows_added is None else f"{v.rows_added:,}",
        "?" if v.rows is None else f"{v.rows:,}",
        "-" if v.rows_quarantined is None else f"{v.rows_quarantined:,}",
        ", ".join(f"{g.name}: {g.label()}" for g in v.gates) or "-",
        status,
    ]


def _origin(v: VersionInfo) -> str:
    """How a version came: the run that made it, or Delta's word for the commit."""
    if v.run_id is None:
        return v.operation.lower()
    names = [PurePosixPath(path).name for path in v.uploads]
    uploads = f" ({', '.join(names[:3])}{f' +{len(names) - 3}' if len(names) > 3 else ''})"
    how = f"converted from {v.converted_from}: run" if v.converted_from else f"{v.mode} run"
    return f"{how} {v.run_id}" + (uploads if names else "")


def _print_diff(dataset: str, found: TableDiff) -> None:
    a, b = f"version {found.a}", f"version {found.b}"
    print(f"{dataset}: {a} -> {b}")
    print(f"rows: {found.rows_a:,} -> {found.rows_b:,} ({found.rows_added:,} added in "
          f"{found.files_added} files, {found.rows_removed:,} removed in "
          f"{found.files_removed} files)")
    changes = [f"{c.column} {c.before} -> {c.after}" if c.change == "type changed"
               else f"{c.column} {c.change} ({c.before or c.after})" for c in found.schema]
    print(f"schema: {'; '.join(changes) or 'unchanged'}")
    rows = []
    for column in found.columns:
        first = column.column
        for label, cells in zip(_STATS, zip(_stats(column.a), _stats(column.b), strict=True),
                                strict=True):
            if cells != ("-", "-"):  # a statistic neither version has (a string's mean)
                rows.append([first, label, *cells, "changed" if cells[0] != cells[1] else ""])
                first = ""
    show_table(f"columns, {a} against {b}", ["column", "statistic", a, b, ""], rows, right={2, 3})


_STATS = ["type", "null rate", "mean", "min", "max", "distinct"]


def _stats(stats: ColumnStats | None) -> list[str]:
    if stats is None:
        return ["(none)"] + [""] * (len(_STATS) - 1)
    rate = stats.null_rate
    about = "~" if stats.distinct_estimated else ""  # a HyperLogLog estimate
    return [stats.type, "-" if rate is None else f"{rate:.2%}", _value(stats.mean),
            _value(stats.min), _value(stats.max), about + _value(stats.distinct)]


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = str(value)
    return text if len(text) <= 32 else text[:31] + "…"


def _span(versions: tuple[int, ...]) -> str:
    if len(versions) == 1:
        return f"version {versions[0]}"
    return f"versions {versions[0]} to {versions[-1]}"


def show_table(title: str, header: list[str], rows: list[list[str]], right: set[int]) -> None:
    """A rich table on a terminal wide enough for it; on a narrower one, each row as a block
    of ``column: value`` lines (nothing cut or folded mid-word); off a terminal, the title
    and aligned plain columns."""
    stdout = Console()  # as wide as the terminal is now
    if stdout.is_terminal:
        table = Table(title=escape(title), title_justify="left")
        for index, name in enumerate(header):
            table.add_column(name, justify="right" if index in right else "left",
                             no_wrap=True)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        wide = stdout.options.update_width(10_000)
        if Measurement.get(stdout, wide, table).maximum <= stdout.width:
            stdout.print(table)
            return
        print(title)
        for row in rows:
            named = [(name or "status", cell) for name, cell in zip(header, row, strict=True)]
            print(f"{named[0][0]} {named[0][1]}")
            print("\n".join(f"  {name}: {cell}" for name, cell in named[1:] if cell))
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(title)
    for row in [header, *rows]:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
