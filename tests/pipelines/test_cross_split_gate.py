"""``expect_no_near_duplicates_across_splits`` through ``assay.run``: the pairs it finds are
exactly the cross-split pairs at the threshold computed from the definition (the sink's
split of each row, the exact Jaccard of word 5-grams), a quarantine takes both ends, and a
split by near-duplicate cluster passes it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import parse_spec
from assay.transforms.split import assign_split
from tests.near_corpus import jaccard, ngrams, planted
from tests.pipelines.conftest import read_quarantine
from tests.published import rows_of

SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "text", "type": "string"}]}
FRACTIONS = {"train": 0.6, "test": 0.4}
LEAKS = {"type": "expect_no_near_duplicates_across_splits", "kwargs": {"column": "text"}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str | None]]:
    texts: list[str | None] = [*planted(6, seed=41, edits=(0, 3, 10, 40)), None, ""]
    folder = tmp_path_factory.mktemp("split-docs")
    lines = [json.dumps({"id": i, "text": text}) for i, text in enumerate(texts)]
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n")
    return folder, texts


def spec_for(folder: Path, steps: list[dict], split_key: str = "id", policy: str = "quarantine",
             split: bool = True):
    sink: dict = {"path": "out"}
    if split:
        sink["split"] = {"key": [split_key], "fractions": FRACTIONS, "seed": 3}
    return parse_spec({"name": "leaks", "source": {"paths": [str(folder / "*.jsonl")]},
                       "schema": SCHEMA, "steps": steps, "sink": sink,
                       "gates": [{"name": "leaks", "expectations": [LEAKS], "policy": policy}]},
                      str(folder / "pipeline.yaml"), folder)


def cross_split_pairs(texts: list[str | None]) -> set[tuple[int, int]]:
    """(i, j) ids of the documents at Jaccard >= 0.8 that the split puts apart."""
    ids = pd.DataFrame({"id": pd.array(range(len(texts)), dtype="Int64")})
    splits = assign_split(ids, ["id"], FRACTIONS, 3).tolist()
    grams = [ngrams(t) for t in texts]
    return {(i, j) for i, j in itertools.combinations(range(len(texts)), 2)
            if grams[i] and grams[j] and splits[i] != splits[j]
            and jaccard(grams[i], grams[j]) >= 0.8}


def gate_result(version) -> dict:
    (gate,) = version.manifest["gates"]
    suite = json.loads((Path(version.path) / gate["result_path"]).read_text())
    (result,) = suite["results"]
    return result


def test_cross_split_pairs_fail_the_gate_and_both_ends_are_quarantined(corpus, run, tmp_path):
    folder, texts = corpus
    truth = cross_split_pairs(texts)
    assert len(truth) >= 3  # the corpus plants leaks
    version = run(spec_for(folder, []), output=str(tmp_path / "out"))
    result = gate_result(version)
    assert result["success"] is False
    found = {(p["a"]["line"] - 1, p["b"]["line"] - 1) for p in
             result["result"]["partial_pair_list"]}
    assert result["result"]["pair_count"] == len(truth) and found <= truth
    ids = pd.DataFrame({"id": pd.array(range(len(texts)), dtype="Int64")})
    splits = assign_split(ids, ["id"], FRACTIONS, 3).tolist()
    for pair in result["result"]["partial_pair_list"]:
        a, b = pair["a"], pair["b"]
        assert (a["split"], b["split"]) == (splits[a["line"] - 1], splits[b["line"] - 1])
        assert pair["jaccard"] <= jaccard(ngrams(texts[a["line"] - 1]),
                                          ngrams(texts[b["line"] - 1])) < pair["jaccard"] + 1e-3
    ends = {i for pair in truth for i in pair}
    quarantined = {json.loads(r["_record"])["id"] for r in read_quarantine(version)}
    assert quarantined == ends
    assert result["result"]["unexpected_count"] == len(ends)
    assert set(rows_of(version.path).to_pydict()["id"]) == set(range(len(texts))) - ends


def test_a_split_by_near_duplicate_cluster_passes_the_gate(corpus, run, tmp_path):
    folder, texts = corpus
    label = {"op": "near_dedup", "column": "text", "action": "label", "cluster_column": "near"}
    version = run(spec_for(folder, [label], split_key="near", policy="abort"),
                  output=str(tmp_path / "out"))
    result = gate_result(version)
    assert result["success"] is True
    assert result["result"]["pair_count"] == 0 and result["result"]["unexpected_count"] == 0
    assert version.manifest["accounting"]["rows_written"] == len(texts)


def test_the_gate_needs_the_sinks_split(corpus):
    folder, _ = corpus
    with pytest.raises(SpecError, match=r"gates\[0\] \(leaks\): expectations\[0\] "
                                        r"\(expect_no_near_duplicates_across_splits\): needs "
                                        r"sink.split"):
        spec_for(folder, [], split=False)


def test_the_splits_key_must_exist_at_the_gate(corpus):
    folder, _ = corpus
    with pytest.raises(SpecError, match=r"the split's key column 'near' does not exist at "
                                        r"this gate"):
        spec_for(folder, [], split_key="near")


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"column": "text", "threshold": 0}, "threshold: expected a fraction above 0"),
    ({"column": "text", "bands": 0}, "bands: expected at least 1, got 0"),
    ({"column": "text", "unit": "line"}, "unit: expected one of word or char"),
    ({"column": "txt"}, "column 'txt' does not exist at this gate"),
])
def test_bad_keys_are_named(corpus, kwargs, error):
    folder, _ = corpus
    leaks = {**LEAKS, "kwargs": kwargs}
    with pytest.raises(SpecError, match=error):
        parse_spec({"name": "leaks", "source": {"paths": [str(folder / "*.jsonl")]},
                    "schema": SCHEMA, "sink": {"path": "out", "split": {
                        "key": ["id"], "fractions": FRACTIONS}},
                    "gates": [{"name": "leaks", "expectations": [leaks]}]},
                   str(folder / "pipeline.yaml"), folder)
