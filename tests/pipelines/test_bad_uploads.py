"""Hostile and broken uploads (``data_samples/hostile.py``) through the real pipeline: each
gets its documented outcome (rows quarantined with reasons, or the upload rejected with one
line naming the file and the problem), nothing is published on a rejection, every row is
accounted for, and no run hangs. A few go through the ``assay run`` CLI as a subprocess:
exit code, no traceback, and peak memory under a cap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.pipelines.compose import RunResult
from assay.pipelines.errors import UploadRejected
from assay.pipelines.spec import PipelineSpec
from data_samples.hostile import CASES, Case
from tests.pipelines.conftest import read_quarantine
from tests.published import latest_version, leftovers, manifest_of

GOOD = b"id,name,amount\n1,a,1\n"
CLI_CASES = ["long_line.csv", "bomb.csv.gz", "unbalanced_quote.csv"]
CASE_TIMEOUT_S = 60
CLI_TIMEOUT_S = 180
CLI_MEMORY_CAP_KIB = 1536 * 1024
_SAMPLE_VALUES = {"int64": "1", "string": "a", "float64": "1.5",
                  "timestamp": "2024-01-01T00:00:00Z"}


def _good_upload(schema: dict[str, Any]) -> bytes:
    """One valid CSV row for ``schema``, to publish a first version before the bad one."""
    columns = schema["columns"]
    header = ",".join(c["name"] for c in columns)
    row = ",".join(_SAMPLE_VALUES[c.get("type", "string")] for c in columns)
    return f"{header}\n{row}\n".encode()


@contextmanager
def _within(seconds: int) -> Iterator[None]:
    """Fail the test instead of hanging the suite."""
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _prepare(case: Case, root: Path) -> dict[str, Any]:
    """Write the case's upload and a good one beside it; the spec as a mapping."""
    (root / "good").mkdir(parents=True)
    (root / "good" / "good.csv").write_bytes(_good_upload(case.schema))
    (root / "bad").mkdir()
    (root / "bad" / case.name).write_bytes(case.bytes())
    return {"name": "hostile", "source": {"paths": ["good"], **case.source},
            "schema": case.schema, "sink": {"path": "out"}}


def _assert_nothing_published(sink: Path) -> None:
    assert latest_version(sink) == 0
    assert leftovers(sink) == []


def _assert_accounted(case: Case, version: RunResult) -> None:
    manifest = version.manifest
    accounting = manifest["accounting"]
    assert (accounting["rows_written"], accounting["rows_quarantined"],
            accounting["rows_dropped"]) == (case.written, case.quarantined, 0)
    assert accounting["rows_read"] == case.written + case.quarantined
    (upload,) = manifest["inputs"]
    assert upload["path"].endswith(case.name)
    assert upload["rows_read"] == accounting["rows_read"]
    assert sum(shard["rows"] for shard in manifest["shards"]) == case.written
    quarantined = read_quarantine(version)
    assert len(quarantined) == case.quarantined
    assert len({row["_source_line"] for row in quarantined}) == case.quarantined
    for row in quarantined:
        assert any(case.problem in reason for reason in row["_reasons"]), row["_reasons"]


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in CLI_CASES],
                         ids=lambda c: c.name)
def test_bad_upload_outcome(
    case: Case, tmp_path: Path, run: Callable[..., RunResult],
    make_spec: Callable[..., PipelineSpec],
) -> None:
    spec = _prepare(case, tmp_path)
    bad = make_spec(**{**spec, "source": {**spec["source"], "paths": ["bad"]}})
    sink = tmp_path / "out"
    with _within(CASE_TIMEOUT_S):
        if case.outcome == "rejected":  # a published version first, to see it stay the latest
            run(make_spec(**spec))
            with pytest.raises(UploadRejected) as caught:
                run(bad)
            message = str(caught.value)
            assert "\n" not in message
            assert case.name in message and case.problem in message, message
            _assert_nothing_published(sink)
            return
        version = run(bad)
    assert latest_version(sink) == version.version == 0
    _assert_accounted(case, version)


_PEAK_RSS = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""
ASSAY = str(Path(sys.executable).with_name("assay"))


def _with_prefect_server() -> dict[str, str]:
    """The environment of an ``assay run`` reporting to the session's Prefect server (an
    ephemeral server per run would cost seconds, and several at once contend for one home)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


@pytest.mark.slow
@pytest.mark.parametrize("name", CLI_CASES)
def test_bad_upload_through_the_cli(
    name: str, tmp_path: Path, prefect_harness: None, run: Callable[..., RunResult],
    make_spec: Callable[..., PipelineSpec],
) -> None:
    case = next(c for c in CASES if c.name == name)
    spec = _prepare(case, tmp_path)
    run(make_spec(**spec))
    spec["cluster"] = {"workers": 1, "processes": False}
    spec_path = tmp_path / "pipeline.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    peak = tmp_path / "peak-rss-kib"

    command = [sys.executable, "-c", _PEAK_RSS, str(peak), ASSAY, "run", str(spec_path),
               "-i", str(tmp_path / "bad")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          env=_with_prefect_server())
    assert "Traceback" not in done.stderr, done.stderr
    assert int(peak.read_text()) < CLI_MEMORY_CAP_KIB
    sink = tmp_path / "out"
    if case.outcome == "rejected":
        assert done.returncode == 3, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and case.name in errors[0] and case.problem in errors[0]
        _assert_nothing_published(sink)
        return
    assert done.returncode == 0, done.stderr
    assert latest_version(sink) == 1
    manifest = manifest_of(sink)
    assert manifest["accounting"]["rows_written"] == case.written
    assert manifest["accounting"]["rows_quarantined"] == case.quarantined


def test_header_only_upload_is_empty_not_an_error(make_spec, uploads, run):
    uploads("header.csv", b"id,name,amount\n")
    uploads("good.csv", GOOD)
    version = run(make_spec())
    rows = {i["path"].rsplit("/", 1)[-1]: i["rows_read"] for i in version.manifest["inputs"]}
    assert rows == {"good.csv": 1, "header.csv": 0}


def _assert_rejected(run, spec, tmp_path, *fragments: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        run(spec)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    out = tmp_path / "out"
    assert latest_version(out) is None
    assert leftovers(out) == [] if out.exists() else True


def test_missing_input_rejected(make_spec, run, tmp_path):
    _assert_rejected(run, make_spec(source={"paths": ["nowhere/*.csv"]}), tmp_path,
                     "nowhere", "nothing matches")


def test_unknown_extension_rejected(make_spec, uploads, run, tmp_path):
    uploads("data.bin", GOOD)
    _assert_rejected(run, make_spec(source={"paths": ["uploads/data.bin"]}), tmp_path,
                     "data.bin", "source.format")


def test_missing_declared_column_rejected(make_spec, uploads, run, tmp_path):
    uploads("cols.csv", b"a,b,c\n1,2,3\n")
    _assert_rejected(run, make_spec(), tmp_path, "cols.csv", "missing columns")


def test_the_generator_has_every_kind_the_issue_lists() -> None:
    kinds = {case.kind for case in CASES}
    assert len(CASES) >= 30 and len(kinds) >= 20
    assert len({case.name for case in CASES}) == len(CASES)
    garbage = next(case for case in CASES if case.name == "garbage.csv")
    assert garbage.bytes() == garbage.bytes()  # seeded: the same bytes every time


def test_the_docs_document_every_case() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "bad-uploads.md").read_text()
    table = page.split("\n| case ", 1)[1].split("\n\n", 1)[0]
    missing = [case.name for case in CASES if f"`{case.name}`" not in table]
    assert not missing
