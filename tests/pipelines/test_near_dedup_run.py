"""near_dedup through ``assay.run``: a JSONL of documents with planted near-duplicates,
the accounting, the removed documents' reasons in the quarantine, the cluster columns in
the published table, and byte-identical output for any worker count and block size."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import assay
from assay.pipelines.cluster import dask_client
from assay.pipelines.errors import SpecError
from assay.pipelines.sink.finish import _row_counts
from assay.pipelines.spec import ClusterSpec, parse_spec
from tests.fault_kit import comparable
from tests.near_corpus import near_scores, planted, true_clusters
from tests.pipelines.conftest import read_quarantine
from tests.published import rows_of

SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "text", "type": "string"}]}
STEP = {"op": "near_dedup", "column": "text", "keep_removed": True,
        "cluster_column": "cluster", "cluster_size_column": "cluster_size",
        "partition_bytes": "40KiB"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str | None]]:
    texts: list[str | None] = [*planted(25, seed=21), None, "", None]
    folder = tmp_path_factory.mktemp("near-docs")
    half = len(texts) // 2
    for name, rows in (("a.jsonl", range(half)), ("b.jsonl", range(half, len(texts)))):
        lines = [json.dumps({"id": i, "text": texts[i]}) for i in rows]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder, texts


def spec_for(folder: Path, block_size: int | None = None, partition_bytes: str = "40KiB"):
    source = {"paths": [str(folder / "*.jsonl")]}
    if block_size:
        source["block_size"] = block_size
    step = {**STEP, "partition_bytes": partition_bytes}
    return parse_spec({"name": "near", "source": source, "schema": SCHEMA,
                       "steps": [step], "sink": {"path": "out"}},
                      str(folder / "pipeline.yaml"), folder)


def test_near_duplicates_leave_with_a_reason_naming_their_keeper(corpus, run, tmp_path):
    folder, texts = corpus
    truth = true_clusters(texts, 0.8)
    version = run(spec_for(folder), output=str(tmp_path / "out"))
    accounting = version.manifest["accounting"]
    dropped = accounting["dropped_by_step"]["near_dedup"]
    assert dropped <= sum(c != i for i, c in enumerate(truth))  # never beyond the clusters
    assert accounting["rows_written"] + dropped == accounting["rows_read"] == len(texts)
    table = rows_of(version.path).to_pydict()
    written = dict(zip(table["id"], zip(table["cluster"], table["cluster_size"],
                                        strict=True), strict=True))
    assert {None, ""} <= {texts[i] for i in written}  # null and empty texts stay
    inputs = [Path(i["path"]).name for i in version.manifest["inputs"]]
    half = len(texts) // 2
    line_of = {i: (inputs.index("a.jsonl" if i < half else "b.jsonl"),
                   i + 1 if i < half else i - half + 1) for i in range(len(texts))}
    by_place = {place: i for i, place in line_of.items()}
    removed = read_quarantine(version)
    assert len(removed) == dropped and {r["_fate"] for r in removed} == {"dropped"}
    for row in removed:
        (reason,) = row["_reasons"]
        found = re.fullmatch(r"near_dedup: near-duplicate of input (\d+) line (\d+) "
                             r"\(cluster of (\d+); verified Jaccard ([0-9.]+)\)", reason)
        assert found, reason
        keeper = by_place[(int(found[1]), int(found[2]))]
        me = json.loads(row["_record"])["id"]
        assert truth[keeper] == truth[me] and keeper in written
        assert written[keeper][1] == int(found[3]) and float(found[4]) >= 0.8
        assert written[keeper][0] == (int(found[1]) << 40) + int(found[2])
    gone = {json.loads(row["_record"])["id"] for row in removed}
    precision, recall = near_scores(texts, [i in gone for i in range(len(texts))], 0.8)
    assert precision == 1.0 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize("partition_bytes", ["40KiB", "64MiB"])  # several shuffled, or one
def test_identical_output_for_any_worker_count_and_block_size(corpus, tmp_path,
                                                               partition_bytes):
    folder, _ = corpus
    runs = []
    for workers, block in ((1, None), (2, 64 * 1024)):
        with dask_client(ClusterSpec(workers=workers, threads_per_worker=1)) as client:
            runs.append(assay.run(spec_for(folder, block, partition_bytes),
                                  output=str(tmp_path / f"w{workers}"), client=client))
    first, other = runs
    assert comparable(other.manifest) == comparable(first.manifest)
    shards = [[(Path(v.path) / s["path"]).read_bytes() for s in v.manifest["shards"]]
              for v in runs]
    assert shards[0] == shards[1]
    assert read_quarantine(first) == read_quarantine(other)


def test_dropped_rows_make_one_ledger_row_per_step_whatever_their_reasons():
    part = pd.DataFrame({"_source_id": np.zeros(4, "int32"), "_source_line": np.arange(4),
                         "_fate": [None, "dropped", "dropped", "quarantined"],
                         "_stage": [None, "near_dedup", "near_dedup", "filter"],
                         "_reasons": [None, "near-duplicate of input 0 line 0 (...)",
                                      "near-duplicate of input 0 line 1 (...)", "bad"]})
    counts = _row_counts(part, part["_fate"].isna())
    columns = [counts[key] for key in ("fate", "stage", "reasons", "rows")]
    assert [list(row) for row in zip(*columns, strict=True)] == [
        ["written", "", "", 1], ["dropped", "near_dedup", "", 2],
        ["quarantined", "filter", "bad", 1]]


def test_a_spec_with_bad_near_dedup_keys_names_the_file_and_key(tmp_path):
    def load(step: dict, text_type: str = "string"):
        schema = {"columns": [{"name": "text", "type": text_type}]}
        return parse_spec({"name": "n", "source": {"paths": ["x.jsonl"]}, "schema": schema,
                           "steps": [{"op": "near_dedup", "column": "text", **step}],
                           "sink": {"path": "out"}}, str(tmp_path / "near.yaml"), tmp_path)

    for step, words in [({"threshold": 2}, r"steps\[0\]\.near_dedup\.threshold"),
                        ({"ngram": 0}, r"steps\[0\]\.near_dedup\.ngram"),
                        ({"scope": "table"}, r"steps\[0\]\.near_dedup\.scope"),
                        ({"column": "body"}, r"no such column\(s\) \['body'\]")]:
        with pytest.raises(SpecError, match=f"near.yaml: .*{words}"):
            load(step)
    with pytest.raises(SpecError, match=r"near.yaml: steps\[0\]: near_dedup: column 'text' "
                                        r"holds Int64, not text"):
        load({}, "int64")


def test_label_keeps_every_document_and_a_split_by_cluster_keeps_clusters_whole(
        corpus, run, tmp_path):
    """``action: label`` removes nothing; splitting on its cluster column puts every member
    of a near-duplicate cluster in one split (no paraphrase crosses train and test)."""
    folder, texts = corpus
    step = {**STEP, "action": "label", "keep_removed": False}
    spec = parse_spec({"name": "near", "source": {"paths": [str(folder / "*.jsonl")]},
                       "schema": SCHEMA, "steps": [step],
                       "sink": {"path": "out", "split": {
                           "key": ["cluster"], "fractions": {"train": 0.5, "test": 0.5}}}},
                      str(folder / "pipeline.yaml"), folder)
    version = run(spec, output=str(tmp_path / "out"))
    assert version.manifest["accounting"]["rows_written"] == len(texts)
    table = rows_of(version.path).to_pandas()
    sizes = table.groupby("cluster")["id"].transform("size")
    assert (sizes == table["cluster_size"]).all()
    assert table.groupby("cluster")["split"].nunique().max() == 1
    assert table["cluster_size"].max() > 1 and table["split"].nunique() == 2


def test_label_needs_a_cluster_column() -> None:
    with pytest.raises(SpecError, match="cluster_column"):
        parse_spec({"name": "near", "source": {"paths": ["*.jsonl"]}, "schema": SCHEMA,
                    "steps": [{"op": "near_dedup", "column": "text", "action": "label"}],
                    "sink": {"path": "out"}}, "near.yaml", Path("."))


def test_the_run_computes_on_its_own_client_when_another_is_newer(corpus, run, tmp_path):
    """The step's planning persists on the run's client, not on the client made last in this
    process (an embedding program, or two test suites, can hold two)."""
    from distributed import Client, LocalCluster

    folder, texts = corpus
    with (LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                       dashboard_address=None) as other_cluster,
          Client(other_cluster) as other):
        version = run(spec_for(folder), output=str(tmp_path / "out"))
        assert not any(other.has_what().values())  # nothing landed there
    assert version.manifest["accounting"]["rows_read"] == len(texts)
