"""``assay suite draft``: the drafted suite loads, holds on its upload through the engine, and
the command's exit codes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assay.flows.cli import app
from assay.pipelines.draft_sample import draft as draft_suite
from assay.validation.expectations import REGISTRY
from assay.validation.suite import load_gate_suite

EVENTS = Path(__file__).resolve().parents[2] / "data_samples/events/uploads/events-1.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def events_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("draft") / "suite.json"
    result = runner.invoke(app, ["suite", "draft", str(EVENTS), "-o", str(path),
                                 "--name", "events_draft"])
    assert result.exit_code == 0, result.output
    assert "expectations drafted from the whole upload" in result.stdout
    return path


def _gate(path: Path) -> SimpleNamespace:
    return SimpleNamespace(name="drafted", suite=str(path), expectations=None)


def test_draft_loads_with_only_registered_types(events_suite: Path) -> None:
    suite = load_gate_suite(_gate(events_suite), resolve=str)
    document = json.loads(events_suite.read_text())

    assert suite.name == "events_draft"
    assert {e.type for e in suite.expectations} <= set(REGISTRY)
    kinds = {(e["type"], e["kwargs"].get("column")) for e in document["expectations"]}
    for column in ("event_id", "ts", "user", "country", "amount", "text"):
        assert ("expect_column_to_exist", column) in kinds
        assert ("expect_column_values_to_not_be_null", column) in kinds
    assert ("expect_column_values_to_be_between", "amount") in kinds
    assert ("expect_column_values_to_be_between", "ts") in kinds
    assert ("expect_column_value_lengths_to_be_between", "text") in kinds
    assert ("expect_table_row_count_to_be_between", None) in kinds
    assert document["meta"]["assay_draft"]["column_types"] == {
        "event_id": "int64", "ts": "timestamp", "user": "string", "country": "string",
        "amount": "float64", "text": "string"}


def test_draft_passes_on_its_upload_through_the_engine(events_suite: Path, tmp_path: Path
                                                       ) -> None:
    """The guarantee: a pipeline whose schema declares the drafted column types, gated by the
    draft, passes every expectation on the upload the draft came from."""

    import assay

    types = json.loads(events_suite.read_text())["meta"]["assay_draft"]["column_types"]
    spec = {
        "name": "draft_check",
        "source": {"paths": [str(EVENTS)]},
        "schema": {"columns": [{"name": c, "type": t} for c, t in types.items()]},
        "gates": [{"name": "drafted", "suite": str(events_suite), "policy": "warn"}],
        "sink": {"path": str(tmp_path / "out")},
        "cluster": {"workers": 1, "threads_per_worker": 1, "processes": False},
    }
    spec_path = tmp_path / "pipeline.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    published = assay.run(spec_path)

    result = json.loads(Path(published.path, published.manifest["gates"][0]["result_path"])
                        .read_text())
    failed = [r["expectation_config"] for r in result["results"] if not r["success"]]
    assert failed == []
    assert result["statistics"]["evaluated_expectations"] >= 19


def test_draft_of_a_truncated_sample_bounds_rows_from_below(tmp_path: Path) -> None:
    draft = draft_suite(str(EVENTS), sample_rows=100)
    row_count = draft.suite["expectations"][0]

    assert (draft.rows, draft.whole) == (100, False)
    assert row_count["kwargs"] == {"min_value": 100, "max_value": None}


def test_draft_of_compressed_jsonl_with_low_cardinality_and_nulls(tmp_path: Path) -> None:
    rows = [{"id": i, "kind": "ab"[i % 2], "score": i / 10, "note": None if i == 7 else "x" * i}
            for i in range(1, 201)]
    path = tmp_path / "upload.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
        handle.write("{not json\n")  # skipped, as the engine quarantines it
    configs = {(c["type"], c["kwargs"].get("column")): c["kwargs"]
               for c in draft_suite(str(path)).suite["expectations"]}

    assert configs[("expect_column_values_to_be_in_set", "kind")]["value_set"] == ["a", "b"]
    assert configs[("expect_column_values_to_not_be_null", "note")]["mostly"] == 0.99
    assert configs[("expect_column_values_to_be_between", "id")] == {
        "column": "id", "min_value": 1, "max_value": 200}
    assert ("expect_column_values_to_be_in_set", "note") not in configs


def test_draft_of_parquet(tmp_path: Path) -> None:
    path = tmp_path / "upload.parquet"
    stamps = pd.to_datetime(["2024-01-01T00:00:00.0000005", "2024-02-01T00:00:00.0000015"],
                            utc=True, format="ISO8601").as_unit("ns")
    pd.DataFrame({"t": stamps, "n": [1.5, 2.5]}).to_parquet(path)
    configs = {(c["type"], c["kwargs"].get("column")): c["kwargs"]
               for c in draft_suite(str(path)).suite["expectations"]}

    assert configs[("expect_column_values_to_be_between", "n")]["max_value"] == 2.5
    assert configs[("expect_column_values_to_be_between", "t")] == {
        "column": "t", "min_value": "2024-01-01T00:00:00+00:00",
        "max_value": "2024-02-01T00:00:00.000002+00:00"}  # outward to microseconds


def test_existing_output_exits_2_without_force(events_suite: Path, tmp_path: Path) -> None:
    target = tmp_path / "suite.json"
    target.write_text("{}")
    refused = runner.invoke(app, ["suite", "draft", str(EVENTS), "-o", str(target)])
    forced = runner.invoke(app, ["suite", "draft", str(EVENTS), "-o", str(target), "--force",
                                 "--sample-rows", "50"])

    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {target}: already exists (use --force to overwrite)"]
    assert target.read_text() != "{}" and forced.exit_code == 0, forced.output


@pytest.mark.parametrize(("name", "content", "says"), [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "the file is empty"),  # a CSV: the engine's own words
    ("binary.csv", b"\xff\xfe\x00\x81garbage\x00\n\x9c", "assay reads UTF-8"),
    ("truncated.csv.gz", gzip.compress(b"a,b\n" + b"".join(
        b"%d,%x\n" % (i, i * 2654435761 % 2**32) for i in range(5000)))[:4000], "ended before"),
    ("upload.xlsx", b"PK", "unknown format"),
])
def test_unreadable_upload_exits_3_with_one_line(
    tmp_path: Path, name: str, content: bytes | None, says: str
) -> None:
    upload = tmp_path / name
    if content is not None:
        upload.write_bytes(content)
    result = runner.invoke(app, ["suite", "draft", str(upload), "-o", str(tmp_path / "s.json")])

    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {upload}: ") and says in lines[0]
    assert not (tmp_path / "s.json").exists()


DIRTY = ('id,country,zip,note\n1, us ,01234,fine\n2,de,02345,"broken\n3,US,03456,ok\n'
         '4,xx,04567,ok\n5,DE,05678,ok\n6,us,06789,ok\n7,de,07890,ok\n')
STEPS_SPEC = """\
name: drafty
source: {paths: [up.csv]}
schema:
  columns:
    - {name: id, type: int64}
    - {name: country}
    - {name: zip}
    - {name: note}
steps:
  - {op: normalize, columns: [country], strip: true, case: upper}
  - op: filter
    keep: {column: country, op: in, value: [US, DE]}
    action: quarantine
sink: {path: out}
cluster: {workers: 1, threads_per_worker: 1, processes: false}
"""


@pytest.fixture
def dirty(tmp_path: Path) -> Path:
    (tmp_path / "up.csv").write_text(DIRTY)
    (tmp_path / "pipeline.yaml").write_text(STEPS_SPEC)
    return tmp_path


def _kwargs(suite: dict) -> dict:
    return {(c["type"], c["kwargs"].get("column")): c["kwargs"] for c in suite["expectations"]}


def test_draft_with_a_spec_profiles_the_rows_after_its_steps(dirty: Path) -> None:
    """The value set is the steps' clean values (not ' us ', 'xx'), the types the schema's
    (zip stays a string of digits), the rows those a gate after the last step sees: line 2's
    quote never closes, so it is quarantined as `assay run` quarantines it (RFC 4180), and
    the rows of US and DE are left."""
    output = dirty / "suite.json"
    result = runner.invoke(app, ["suite", "draft", str(dirty / "up.csv"), "--spec",
                                 str(dirty / "pipeline.yaml"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"after the steps of {dirty / 'pipeline.yaml'} (5 rows)" in result.stdout
    suite = json.loads(output.read_text())
    kwargs = _kwargs(suite)

    assert kwargs[("expect_column_values_to_be_in_set", "country")]["value_set"] == ["DE", "US"]
    assert suite["meta"]["assay_draft"]["column_types"]["zip"] == "string"
    assert suite["meta"]["assay_draft"]["after_the_steps_of"] == str(dirty / "pipeline.yaml")
    raw = _kwargs(draft_suite(str(dirty / "up.csv")).suite)
    assert ("expect_column_values_to_be_in_set", "country") not in raw  # the dirt's variety


def test_draft_for_a_spec_whose_gate_will_load_the_draft(dirty: Path) -> None:
    """The README's order: the spec names the suite the draft is about to write."""
    spec = dirty / "pipeline.yaml"
    spec.write_text(STEPS_SPEC + "gates:\n  - {name: quality, suite: drafted.json}\n")
    result = runner.invoke(app, ["suite", "draft", str(dirty / "up.csv"), "--spec", str(spec),
                                 "-o", str(dirty / "drafted.json")])
    assert result.exit_code == 0, result.output
    validated = runner.invoke(app, ["validate", str(spec)])
    assert validated.exit_code == 0, validated.output


def test_draft_reads_a_csv_as_assay_run_does(dirty: Path) -> None:
    """An unbalanced quote made pandas' reader give up on the whole upload; the engine's
    reader (the draft's now) takes the upload as a run takes it."""
    import assay

    spec = dirty / "strings.yaml"
    spec.write_text(STEPS_SPEC.replace("type: int64", "type: string").split("steps:")[0]
                    + "sink: {path: out}\ncluster: {workers: 1, processes: false}\n")
    published = assay.run(spec)
    drafted = draft_suite(str(dirty / "up.csv"))

    assert drafted.rows == published.manifest["accounting"]["rows_written"]
    assert drafted.whole


def test_draft_with_a_spec_that_leaves_no_rows_says_so(dirty: Path) -> None:
    (dirty / "pipeline.yaml").write_text(STEPS_SPEC.replace("[US, DE]", "[FR]"))
    result = runner.invoke(app, ["suite", "draft", str(dirty / "up.csv"), "--spec",
                                 str(dirty / "pipeline.yaml"), "-o", str(dirty / "s.json")])

    assert result.exit_code == 3
    assert result.stderr.strip() == f"error: {dirty / 'up.csv'}: no data rows left after the steps"
