"""``assay inspect``, ``diff``, ``vacuum`` and ``convert`` as a user runs them: what they
print (plain columns in a pipe, rich tables on a terminal), their one-line errors and exit
codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from assay.flows.cli import app
from tests.care_kit import commit_run, gate, rows_at

runner = CliRunner()
LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_layout"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    commit_run(root, {None: pa.table({"id": [1, 2, 3]})}, mode="overwrite", run_id="r0",
               gates=[gate()], uploads=["in/a.csv"])
    commit_run(root, {None: pa.table({"id": [4]})}, run_id="r1",
               gates=[gate(success=False, quarantined=2)], uploads=["in/b.csv", "in/c.csv"])
    commit_run(root, {None: pa.table({"id": [5, 6], "x": [0.5, None]})}, mode="overwrite",
               run_id="r2", gates=[gate(policy="warn", success=False)])
    return root


def rows_of(output: str) -> dict[str, str]:
    """Plain table lines by their first cell."""
    return {line.split()[0]: line for line in output.splitlines()[2:] if line.strip()}


def test_inspect_lists_versions_with_how_they_came_and_gates(table: Path) -> None:
    result = runner.invoke(app, ["inspect", str(table)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"versions of {table}"
    assert lines[1].split() == ["version", "committed", "(UTC)", "how", "it", "came", "rows",
                                "added", "rows", "quarantined", "gates"]
    rows = rows_of(result.stdout)
    assert "overwrite run r0 (a.csv)" in rows["0"] and "quality: passed" in rows["0"]
    assert "append run r1 (b.csv, c.csv)" in rows["1"]
    assert "quality: quarantined 2 rows" in rows["1"] and "FAIL" not in rows["1"]
    assert "quality: warned" in rows["2"] and rows["2"].endswith("latest")
    assert rows["1"].split()[-7:-4] == ["1", "4", "2"]  # rows added, rows, quarantined
    assert "┃" not in result.stdout  # not a terminal: plain text


def _inspect_on_a_terminal(table: Path, monkeypatch: pytest.MonkeyPatch, columns: int) -> str:
    """What ``assay inspect`` shows on a terminal ``columns`` wide, styles taken out."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(columns))
    result = runner.invoke(app, ["inspect", str(table)])
    assert result.exit_code == 0, result.output
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


def test_inspect_on_a_terminal_is_a_rich_table(table: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _inspect_on_a_terminal(table, monkeypatch, 200)
    assert "┃ version ┃" in shown and "quality: quarantined 2 rows" in shown
    assert re.search(r"│ 1 +│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │", shown)  # the whole time


def test_inspect_on_a_narrow_terminal_cuts_nothing(table: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _inspect_on_a_terminal(table, monkeypatch, 80)
    assert "…" not in shown and "┃" not in shown  # a block per version, not a squeezed table
    block = shown.split("version 1\n")[1].split("version 2")[0]
    assert re.search(r"^  committed \(UTC\): \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", block, re.M)
    assert "  how it came: append run r1 (b.csv, c.csv)\n" in block
    assert "  quarantined: 2\n" in block and "  gates: quality: quarantined 2 rows\n" in block


@pytest.mark.parametrize(("make", "line"), [
    (lambda root: None, "error: {root}: no such directory"),
    (lambda root: root.mkdir(), "error: {root}: not a Delta table (no _delta_log/)"),
    (lambda root: shutil.copytree(LEGACY / "flat", root),
     "error: {root}: the old layout (version folders and LATEST); "
     "run `assay convert {root}` first"),
])
@pytest.mark.parametrize("command", [["inspect"], ["diff"], ["vacuum", "--keep", "1"]])
def test_a_path_that_is_no_table_is_one_line_and_exit_2(tmp_path: Path, make, line,
                                                       command: list[str]) -> None:
    root = tmp_path / "dataset"
    make(root)
    result = runner.invoke(app, [command[0], str(root), *command[1:]])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line.format(root=root)]


def test_diff_prints_rows_schema_and_columns(table: Path) -> None:
    result = runner.invoke(app, ["diff", str(table)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"{table}: version 1 -> version 2",
                         "rows: 4 -> 2 (2 added in 1 files, 4 removed in 2 files)",
                         "schema: x added (double)"]
    assert lines[3] == "columns, version 1 against version 2"
    stats = [line.split() for line in lines[5:]]
    assert ["mean", "2.5", "5.5", "changed"] in stats
    x = lines.index(next(line for line in lines if line.startswith("x ")))
    assert stats[x - 5:x - 3] == [["x", "type", "(none)", "double", "changed"],
                                  ["null", "rate", "50.00%", "changed"]]  # a new column
    assert ["distinct", "4", "2", "changed"] in stats


def test_diff_of_given_versions_and_an_unknown_one(table: Path) -> None:
    result = runner.invoke(app, ["diff", str(table), "0", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "rows: 3 -> 4 (1 added in 1 files, 0 removed in " \
                                            "0 files)"
    assert runner.invoke(app, ["diff", str(table), "0"]).stdout.startswith(
        f"{table}: version 0 -> version 2")
    unknown = runner.invoke(app, ["diff", str(table), "0", "9"])
    assert unknown.exit_code == 2
    assert unknown.stderr == f"error: {table}: no version 9 (the latest is version 2)\n"


def test_vacuum_dry_run_then_for_real(table: Path) -> None:
    old = sorted(p.name for p in table.glob("part-r[01]-*.parquet"))
    dry = runner.invoke(app, ["vacuum", str(table), "--keep", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [f"{table}: keeping version 2; versions 0 to 1 no "
                                       "longer kept", *(f"would remove {name}" for name in old)]
    assert sorted(p.name for p in table.glob("part-r[01]-*.parquet")) == old
    done = runner.invoke(app, ["vacuum", str(table), "--keep", "1"])
    assert done.stdout.splitlines()[1:] == [f"removed {name}" for name in old]
    assert not list(table.glob("part-r[01]-*.parquet"))
    assert rows_at(table, 2) == [{"id": 5, "x": 0.5}, {"id": 6, "x": None}]
    listed = rows_of(runner.invoke(app, ["inspect", str(table)]).stdout)
    assert listed["0"].endswith("files removed") and listed["2"].endswith("latest")
    again = runner.invoke(app, ["vacuum", str(table), "--older-than", "7d"])
    assert again.stdout.splitlines() == [f"{table}: keeping versions 0 to 2", "removed nothing"]


@pytest.mark.parametrize(("args", "line"), [
    ([], "error: vacuum: give one of --keep N and --older-than AGE"),
    (["--keep", "1", "--older-than", "1d"],
     "error: vacuum: give one of --keep N and --older-than AGE"),
    (["--older-than", "7 days"],
     "error: --older-than 7 days: not an age (a number and s, m, h, d or w: 7d)"),
])
def test_vacuum_options_are_checked(table: Path, args: list[str], line: str) -> None:
    result = runner.invoke(app, ["vacuum", str(table), *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]


def test_convert_then_inspect(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    shutil.copytree(LEGACY / "flat", root)
    result = runner.invoke(app, ["convert", str(root)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"{root}: v00000{n + 1} -> version {n}" for n in range(3)]
    assert lines[3].startswith(f"{root}: run ") and lines[3].endswith(
        "(aborted by a gate) -> _assay/runs/" + lines[3].split()[2] + "/")
    listed = rows_of(runner.invoke(app, ["inspect", str(root)]).stdout)
    assert "converted from v000003: run " in listed["2"]
    again = runner.invoke(app, ["convert", str(root)])
    assert again.stdout == f"{root}: already a Delta table; nothing to convert\n"


def test_convert_a_path_that_is_no_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path}: not a dataset (no LATEST, no _delta_log/)\n"


def test_a_reader_that_stops_early_ends_the_output_quietly(tmp_path: Path) -> None:
    """``assay diff ... | head``: more output than a pipe holds, and the reader goes."""
    wide = pa.table({f"column_{i:03d}": [i, i + 1] for i in range(400)})
    commit_run(tmp_path, {None: wide})
    commit_run(tmp_path, {None: wide})
    assay = Path(sys.executable).with_name("assay")
    child = subprocess.Popen([assay, "diff", str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().startswith(str(tmp_path).encode())
    child.stdout.close()
    _, stderr = child.communicate(timeout=120)
    assert (child.returncode, stderr) == (0, b"")
