"""The assay CLI: spec checks, exit codes, one-line errors, help texts (the dataset
commands: test_dataset_commands.py)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from assay.flows.cli import app
from assay.pipelines.errors import (
    AlreadyPublished,
    AssayError,
    GateAborted,
    SpecError,
    UploadRejected,
)

if TYPE_CHECKING:
    from conftest import FakeEngine

runner = CliRunner()


def test_validate_ok_prints_outline(tiny_spec: Path) -> None:
    result = runner.invoke(app, ["validate", str(tiny_spec)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK ")
    for part in ("source", "columns", "2: id:int64, city:string", "steps", "gates", "sink"):
        assert part in result.stdout


def test_validate_shows_the_columns_the_steps_leave(tiny_spec: Path) -> None:
    """Types as the steps make them (a parsed timestamp, a cast, a derived column), so a
    gate's author sees what the gate after the last step gets."""
    tiny_spec.write_text(tiny_spec.read_text().replace("sink:", """steps:
  - {op: parse_timestamp, column: city, on_error: null}
  - {op: cast, columns: {id: float64}}
  - {op: rename, columns: {city: seen}}
sink:"""))
    result = runner.invoke(app, ["validate", str(tiny_spec)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert re.search(r"^  after the steps +2: id:float64, seen:timestamp *$", result.stdout,
                     re.M)


def test_validate_folds_a_long_sink_path_rather_than_cutting_it(tiny_spec: Path) -> None:
    long = "a-very-long-folder-name-that-does-not-fit/" * 3 + "out"
    tiny_spec.write_text(tiny_spec.read_text().replace("path: out", f"path: {long}"))
    result = runner.invoke(app, ["validate", str(tiny_spec)], terminal_width=60)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    sink = result.stdout.split("  sink")[1]
    assert long in "".join(line.strip() for line in sink.splitlines())


def test_validate_bad_key_exits_2_naming_it(tiny_spec: Path) -> None:
    tiny_spec.write_text(tiny_spec.read_text().replace("sink:", "sinc:"))
    result = runner.invoke(app, ["validate", str(tiny_spec)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any("sinc" in line for line in lines)
    assert all(line.startswith("error: ") for line in lines)
    assert "Traceback" not in result.output


def test_validate_one_bad_value_is_one_line(tiny_spec: Path) -> None:
    tiny_spec.write_text(tiny_spec.read_text().replace("type: int64", "type: int128"))
    result = runner.invoke(app, ["validate", str(tiny_spec)])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert "schema.columns[0].type" in result.stderr


def test_run_loads_the_spec_and_resolves_the_backend_once(
        fake_engine: FakeEngine, tiny_spec: Path, count_calls) -> None:
    """The CLI checks the spec before Prefect starts and hands the flow what it loaded."""
    from assay.pipelines import compose

    calls = count_calls(compose, "load_spec", "resolve_backend")
    result = runner.invoke(app, ["run", str(tiny_spec)])

    assert result.exit_code == 0, result.output
    assert calls == {"load_spec": 1, "resolve_backend": 1}
    assert fake_engine.calls["plan"] == 1


def test_run_prints_summary(fake_engine: FakeEngine, tiny_spec: Path) -> None:
    result = runner.invoke(app, ["run", str(tiny_spec), "--workers", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "rows read",
        "10",
        "rows written",
        "schema: id is not an int64",
        "dedup",
        "0 (replaced the dataset: 7 rows)",
        "rows per second",
        "engine time",
        # where the rest of the run's time went
        "plan time",
        "cluster start time",
        "cluster stop time",
        "publish time",
    ):
        assert text in out
    assert "progress: 2/2 partitions" in result.stderr  # not a terminal: plain lines


@pytest.mark.parametrize(
    ("stage", "error", "code"),
    [
        ("plan", SpecError("spec.yaml: sink.path: field required"), 2),
        ("plan", UploadRejected("a.csv: not CSV"), 3),
        ("engine", GateAborted("gate 'ids': 40% quarantined > 10%"), 4),
        ("plan", AlreadyPublished("a.csv: already in the dataset (version 3, sha256 "
                                  "0123456789ab...); nothing published", 3), 6),
    ],
)
def test_known_errors_map_to_exit_codes_in_one_line(
    fake_engine: FakeEngine, tiny_spec: Path, stage: str, error: AssayError, code: int
) -> None:
    fake_engine.fail[stage] = [error]
    result = runner.invoke(app, ["run", str(tiny_spec)])
    assert result.exit_code == code
    assert result.stderr.splitlines() == [f"error: {error}"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), AssayError("internal: sums differ")])
def test_internal_failure_exits_1_with_traceback_and_hint(
    fake_engine: FakeEngine, tiny_spec: Path, error: Exception
) -> None:
    fake_engine.fail["engine"] = [error]
    result = runner.invoke(app, ["run", str(tiny_spec)])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "boom" in result.stderr or "sums differ" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("hint: ")


def test_verbose_shows_traceback_for_known_errors(fake_engine: FakeEngine, tiny_spec: Path) -> None:
    fake_engine.fail["plan"] = [UploadRejected("a.csv: empty")]
    result = runner.invoke(app, ["run", str(tiny_spec), "--verbose"])
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: a.csv: empty"


def test_every_command_and_option_has_help() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) == {"run", "validate", "inspect", "diff", "vacuum", "convert",
                             "suite", "doctor", "serve", "api", "watch", "uploads", "daemon"}
    groups = {"suite": {"draft"}, "uploads": {"list", "show", "retry"},
              "daemon": {"start", "stop", "status"}}
    leaves = {name: command for name, command in commands.items() if name not in groups}
    for group_name, names in groups.items():
        subcommands = commands[group_name].commands  # type: ignore[attr-defined]
        assert set(subcommands) == names
        leaves |= {f"{group_name} {name}": subcommands[name] for name in names}
    for name, command in leaves.items():
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"


@pytest.mark.parametrize("command", ["vacuum", "convert"])
def test_help_paragraphs_wrap_to_the_terminal_not_to_the_source(command: str) -> None:
    """A docstring's later paragraphs were printed with its source line breaks: at 120
    columns each paragraph is one line, and at 60 no line breaks before the width needs."""
    wide = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert wide.exit_code == 0, wide.output
    assert re.search(r"Holds the dataset's lock, as runs do\.", wide.stdout), wide.stdout
    narrow = runner.invoke(app, [command, "--help"], env={"COLUMNS": "60"}).stdout
    prose = "\n".join(line.strip() for line in
                      narrow.split("Usage:")[1].split("╭")[0].splitlines()[1:])
    for paragraph in prose.strip().split("\n\n"):
        lines = paragraph.splitlines()
        for line, following in itertools.pairwise(lines):
            assert len(line) + 1 + len(following.split()[0]) > 58, (line, following)


@pytest.mark.slow
def test_verbose_shows_the_library_error_behind_a_rejected_upload(
    prefect_harness: None, tiny_spec: Path
) -> None:
    """``assay run`` (a fresh process, as a user runs it) on a cut gzip: one line; with -v
    the traceback, down to the codec's own error as the rejection's cause."""
    import gzip
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    upload = tiny_spec.parent / "cut.csv.gz"
    whole = gzip.compress(b"id,city\n" + b"".join(b"%d,c%d\n" % (i, i * i) for i in range(9999)))
    upload.write_bytes(whole[: len(whole) // 2])
    assay = [str(Path(sys.executable).with_name("assay")), "run", str(tiny_spec), "-i",
             str(upload)]
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    line = (f"error: {upload}: cannot read (gzip): EOFError: Compressed file ended before the "
            "end-of-stream marker was reached")

    quiet = subprocess.run(assay, capture_output=True, text=True, timeout=180, env=env)
    assert quiet.returncode == 3, quiet.stderr
    assert [x for x in quiet.stderr.splitlines() if not x.startswith("progress: ")] == [line]

    verbose = subprocess.run([*assay, "-v"], capture_output=True, text=True, timeout=180,
                             env=env)
    assert verbose.returncode == 3, verbose.stderr
    cause = verbose.stderr.rindex("\nEOFError: Compressed file ended")
    assert "direct cause of the following exception" in verbose.stderr[cause:]
    assert verbose.stderr.splitlines()[-1] == line
