"""Each bundled sample through the CLI: the manifest, the quarantine and determinism are
exactly what the sample's ``expected.json`` (written when the sample was built) says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prefect.artifacts import Artifact
from typer.testing import CliRunner

import assay
from assay.flows.artifacts import gate_artifact_key
from assay.flows.cli import app
from assay.pipelines.summary import GateOutcome
from tests.published import manifest_of, quarantine_of, rows_of

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
runner = CliRunner()


def _run(spec: Path, output: Path) -> dict:
    result = runner.invoke(app, ["run", str(spec), "--output", str(output), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return manifest_of(output)


def _quarantine(output: Path, manifest: dict) -> list[dict]:
    return quarantine_of(output, manifest["run_id"])


@pytest.mark.parametrize("sample", ["events", "records"])
def test_sample_end_to_end(prefect_harness: None, tmp_path: Path, sample: str) -> None:
    expected = json.loads((SAMPLES / sample / "expected.json").read_text())
    output = tmp_path / "out"
    manifest = _run(SAMPLES / sample / "pipeline.yaml", output)

    accounting = manifest["accounting"]
    for key, value in expected["accounting"].items():
        assert accounting[key] == value, key
    assert accounting["rows_read"] == (accounting["rows_written"]
                                       + accounting["rows_quarantined"]
                                       + accounting["rows_dropped"])
    folder = output
    _assert_every_reader_sees(output, manifest)
    for shard in manifest["shards"]:
        data = (folder / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert pq.read_metadata(folder / shard["path"]).num_rows == shard["rows"]
    assert sum(s["rows"] for s in manifest["shards"]) == manifest["rows"]
    for upload in manifest["inputs"]:
        name = next(k for k in expected["inputs"] if upload["path"].endswith(k))
        assert upload["rows_read"] == expected["inputs"][name]["rows_read"]

    rejected = {(Path(r["_source_file"]).name, r["_source_line"]): r
                for r in _quarantine(output, manifest)}
    for bad in expected["bad_lines"]:
        if bad["fate"] != "quarantined":
            continue
        row = rejected[(Path(bad["file"]).name, bad["line"])]
        assert row["_stage"] == bad["stage"], bad
        assert row["_reasons"], bad
    assert len(rejected) == accounting["rows_quarantined"]

    _assert_gate_outputs(folder, manifest)

    again = _run(SAMPLES / sample / "pipeline.yaml", output)
    assert again["version"] != manifest["version"]
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in manifest["shards"]]


def _assert_every_reader_sees(output: Path, manifest: dict) -> None:
    """The table reads with plain calls, no assay: delta-rs, Polars, pyarrow's dataset."""
    import polars as pl
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    table = DeltaTable(str(output))
    assert table.to_pyarrow_table().num_rows == manifest["rows"]
    assert pl.scan_delta(str(output)).select(pl.len()).collect().item() == manifest["rows"]
    assert ds.dataset(table.file_uris(), format="parquet").count_rows() == manifest["rows"]
    assert table.to_pyarrow_dataset().count_rows() == manifest["rows"]
    dataset = assay.open_dataset(output)
    assert dataset.manifest == manifest and dataset.verify().files == len(manifest["shards"])
    assert dataset.to_arrow().num_rows == manifest["rows"] == len(dataset.to_hf())
    assert dataset.splits == manifest.get("splits", {})
    for split, rows in manifest.get("splits", {}).items():
        assert pl.scan_delta(str(output)).filter(pl.col("split") == split) \
            .select(pl.len()).collect().item() == rows


def _assert_gate_outputs(folder: Path, manifest: dict) -> None:
    """Per gate: GE-shaped JSON, its HTML report and a Prefect table artifact of failures."""
    for gate in manifest["gates"]:
        result = json.loads((folder / gate["result_path"]).read_text())
        assert result["success"] == gate["success"]
        assert {"results", "statistics", "suite_name"} <= result.keys()
        page = (folder / gate["result_path"]).with_suffix(".html").read_text()
        assert "<html" in page.lower()
        failed_results = [r for r in result["results"] if not r["success"]]
        failed = [r["expectation_config"]["type"] for r in failed_results]
        columns = [r["expectation_config"]["kwargs"].get("column") for r in failed_results]
        assert all(column in page for column in columns if column)
        artifact = Artifact.get(gate_artifact_key(manifest["pipeline"], gate["name"]))
        assert artifact is not None and artifact.type == "table"
        said = GateOutcome.from_entry(gate).label()  # the words inspect and the summary use
        assert artifact.description.startswith(f"{manifest['pipeline']} gate {gate['name']}: "
                                               f"{said} (")
        assert said in page and "failed" not in artifact.description.lower()
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        assert sorted(row["expectation"] for row in rows) == sorted(failed)


def test_text_sample_end_to_end(prefect_harness: None, tmp_path: Path) -> None:
    """Every line of the text sample ends where ``expected.json`` says, by the step it
    names; near-duplicates name their kept original; PII is redacted and counted; the gate
    finds no near-duplicate across the splits."""
    expected = json.loads((SAMPLES / "text" / "expected.json").read_text())
    output = tmp_path / "out"
    manifest = _run(SAMPLES / "text" / "pipeline.yaml", output)
    lines = expected["lines"]

    accounting = manifest["accounting"]
    assert accounting["rows_read"] == len(lines)  # a malformed line is a row read too
    assert accounting["rows_written"] == sum(line["fate"] == "written" for line in lines)
    dropped: dict[str, int] = {}
    for line in lines:
        if line["fate"] == "dropped":
            dropped[line["stage"]] = dropped.get(line["stage"], 0) + 1
    assert accounting["dropped_by_step"] == dropped
    assert accounting["quarantined_by_stage"] == {"read": 2}
    assert {k: v for k, v in accounting["counts_by_step"]["pii"].items() if v} == {
        line["pii"]: 1 for line in lines if "pii" in line}

    removed = {(Path(r["_source_file"]).name, r["_source_line"]): r
               for r in quarantine_of(output, manifest["run_id"])}
    names = [Path(upload["path"]).name for upload in manifest["inputs"]]
    for line in lines:
        key = (Path(line["file"]).name, line["line"])
        if line["fate"] == "written":
            assert key not in removed, line
            continue
        row = removed[key]
        assert (row["_fate"], row["_stage"]) == (line["fate"], line["stage"]), line
        if line["stage"] == "near_dedup":  # the reason names the original's input and line
            original = next(k for k in lines if k["fate"] == "written" and json.loads(
                _line_of(k))["id"] == line["near_duplicate_of"])
            source = names.index(Path(original["file"]).name)
            assert f"of input {source} line {original['line']} " in row["_reasons"][0]

    published = {row["id"]: row for row in rows_of(output).to_pylist()}
    for line in lines:
        if "redacted" in line:
            assert published[json.loads(_line_of(line))["id"]]["text"] == line["redacted"]
    assert {row["cluster_size"] for row in published.values()} >= {1, 2}
    eval_set = SAMPLES / "text" / "eval" / "HumanEval.jsonl.gz"  # what decontaminate read
    (step_file,) = manifest["step_files"]
    assert step_file == {"step": "decontaminate", "name": "humaneval",
                         "path": step_file["path"],
                         "sha256": hashlib.sha256(eval_set.read_bytes()).hexdigest()}
    assert Path(step_file["path"]).resolve() == eval_set.resolve()
    (gate,) = manifest["gates"]  # a split by cluster leaks no near-duplicate across splits
    assert (gate["name"], gate["outcome"]) == ("no_leaks", "passed")
    _assert_every_reader_sees(output, manifest)

    again = _run(SAMPLES / "text" / "pipeline.yaml", output)
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in manifest["shards"]]


def _line_of(line: dict) -> str:
    """The raw text of a sample line (``file`` relative to the sample)."""
    import gzip

    path = SAMPLES / "text" / line["file"]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as text:
        return text.read().splitlines()[line["line"] - 1]
