"""near_dedup with ``scope: dataset`` through ``assay.run``: an append removes its documents
near a published one (the reason names the published row's file and row), published rows
stay as they were, the run's own near-duplicates go as with ``scope: run``, a label run
gives the run's documents their published keeper's cluster id, and the output is the same
for any worker count."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dask
import numpy as np
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, TableFeatures
from distributed import Client, LocalCluster

import assay
from assay.pipelines.errors import SpecError
from tests.near_corpus import jaccard, ngrams, vocabulary
from tests.pipelines.conftest import read_quarantine
from tests.published import RUN_IN_NAME, rows_of, shard_bytes

SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "text", "type": "string"}]}
STEP = {"op": "near_dedup", "column": "text", "scope": "dataset", "keep_removed": True,
        "cluster_column": "cluster", "cluster_size_column": "cluster_size"}
PUBLISHED_REASON = re.compile(r"near_dedup: near-duplicate of a row in version (\d+) \(file "
                              r"(\S+), row (\d+); verified Jaccard ([0-9.]+)\)")


def documents(count: int, seed: int = 5) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [list(rng.choice(vocabulary(), 200)) for _ in range(count)]


def edited(words: list[str], edits: int, seed: int) -> list[str]:
    """``words`` with ``edits`` of them replaced (1 edit: Jaccard about 0.95)."""
    rng = np.random.default_rng(seed)
    words = list(words)
    for at in rng.choice(len(words), edits, replace=False):
        words[at] = f"zzz{seed}x{at}"
    return words


BASE = documents(7)
NEAR_1 = edited(BASE[0], 3, 2)  # near 1 (published), and near 3 (removed in version 0)
FIRST = {1: BASE[0], 2: BASE[1], 3: edited(BASE[0], 1, 1), 4: BASE[2], 5: None}
SECOND = {11: NEAR_1,
          12: BASE[1],  # a copy of 2
          13: BASE[3], 14: edited(BASE[3], 1, 3),  # near each other, new
          15: BASE[4], 16: "",
          17: edited(NEAR_1, 3, 4)}  # near 11, not near 1: stays when 11 leaves for 1


def test_the_documents_are_as_planted():
    sets = {i: ngrams(" ".join(w)) for i, w in {**FIRST, **SECOND}.items() if w}
    near = {(i, j) for i in sets for j in sets if i < j and jaccard(sets[i], sets[j]) >= 0.8}
    assert near == {(1, 3), (1, 11), (3, 11), (2, 12), (13, 14), (11, 17)}


def jsonl(rows: dict[int, list[str] | str | None]) -> bytes:
    return "".join(json.dumps({"id": i, "text": " ".join(t) if isinstance(t, list) else t})
                   + "\n" for i, t in rows.items()).encode()


def spec_for(make_spec, mode: str = "append", **step):
    return make_spec(source={"paths": ["uploads"], "format": "jsonl"}, schema=SCHEMA,
                     sink={"path": "out", "mode": mode}, steps=[{**STEP, **step}])


def ids(table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def removed(version) -> dict[int, str]:
    return {json.loads(row["_record"])["id"]: reason for row in read_quarantine(version)
            for reason in row["_reasons"]}


def test_an_append_removes_documents_near_published_ones_naming_the_published_row(
        make_spec, uploads, run):
    spec = spec_for(make_spec)
    first = run(spec_for(make_spec, partition_bytes="4KiB"),  # a version of several files
                inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    assert len(first.manifest["shards"]) > 1
    assert set(removed(first)) == {3}  # a first version: as scope run
    published = rows_of(first.path).to_pylist()
    second = run(spec, inputs=[str(uploads("b.jsonl", jsonl(SECOND)))])
    reasons = removed(second)
    assert set(reasons) == {11, 12, 14}
    assert re.fullmatch(r"near_dedup: near-duplicate of input 0 line 3 \(cluster of 2; "
                        r"verified Jaccard 0\.9\d*\)", reasons[14])
    table = Path(second.path)
    for member, keeper in ((11, 1), (12, 2)):
        found = PUBLISHED_REASON.fullmatch(reasons[member])
        assert found, reasons[member]
        version, file, row, jaccard = found.groups()
        assert int(version) == first.version and float(jaccard) >= 0.8
        at = pq.read_table(table / file).slice(int(row), 1).to_pylist()[0]
        assert at["id"] == keeper  # the reason finds the published keeper
    assert PUBLISHED_REASON.fullmatch(reasons[12])[4] == "1"
    assert second.manifest["accounting"]["dropped_by_step"] == {"near_dedup": 3}
    after = rows_of(second.path)
    assert ids(after) == [1, 2, 4, 5, 13, 15, 16, 17]
    assert [r for r in after.to_pylist() if r["id"] < 10] == published  # untouched
    by_id = {r["id"]: r for r in after.to_pylist()}
    assert (by_id[13]["cluster"], by_id[13]["cluster_size"]) == ((0 << 40) + 3, 2)
    assert (by_id[15]["cluster"], by_id[15]["cluster_size"]) == ((0 << 40) + 5, 1)
    assert by_id[17]["cluster_size"] == 1  # the run's clusters leave out documents that left


def test_label_gives_run_documents_their_published_keepers_cluster_id(
        make_spec, uploads, run):
    spec = spec_for(make_spec, action="label")
    run(spec, inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    second = run(spec, inputs=[str(uploads("b.jsonl", jsonl(SECOND)))])
    assert second.manifest["accounting"]["rows_written"] == len(SECOND)
    rows = {r["id"]: r for r in rows_of(second.path).to_pylist()}
    assert rows[11]["cluster"] == rows[17]["cluster"] == rows[1]["cluster"] == 1
    assert rows[3]["cluster"] == 1
    assert rows[11]["cluster_size"] == 4  # 11 and 17, and published 1 and 3
    assert rows[12]["cluster"] == rows[2]["cluster"] and rows[12]["cluster_size"] == 2
    assert rows[14]["cluster"] == rows[13]["cluster"] == 3  # the run's own: input 0 line 3
    assert rows[15]["cluster_size"] == 1


def test_an_overwrite_compares_only_its_own_rows(make_spec, uploads, run):
    run(spec_for(make_spec), inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    again = run(spec_for(make_spec, "overwrite"), inputs=[str(uploads("b.jsonl",
                                                                      jsonl(SECOND)))])
    assert set(removed(again)) == {14, 17}
    assert ids(rows_of(again.path)) == [11, 12, 13, 15, 16]


def test_the_same_append_for_any_worker_count(make_spec, uploads, tmp_path):
    spec = spec_for(make_spec, partition_bytes="8KiB")
    first, second = uploads("a.jsonl", jsonl(FIRST)), uploads("b.jsonl", jsonl(SECOND))
    outputs = []
    for workers, shuffle in ((1, "tasks"), (3, "p2p")):
        out = str(tmp_path / f"out-{workers}")
        with dask.config.set({"dataframe.shuffle.method": shuffle}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                             dashboard_address=None) as cluster, Client(cluster) as client:
            assay.run(spec, inputs=[str(first)], output=out, client=client)
            result = assay.run(spec, inputs=[str(second)], output=out, client=client)
        reasons = {i: RUN_IN_NAME.sub("part-", r) for i, r in removed(result).items()}
        outputs.append((shard_bytes(out), sorted(reasons.items())))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][1]) == 3


def test_a_published_table_without_the_text_column_is_refused(make_spec, uploads, run):
    spec = make_spec(source={"paths": ["uploads"], "format": "jsonl"}, schema=SCHEMA,
                     sink={"path": "out", "mode": "append"},
                     steps=[STEP, {"op": "drop", "columns": ["text"]}])
    run(spec, inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    with pytest.raises(SpecError, match=r"steps 'near_dedup' \(scope: dataset\): version 0 "
                                        r"of .*out has no column 'text' to compare"):
        run(spec, inputs=[str(uploads("b.jsonl", jsonl(SECOND)))])


def test_a_published_text_column_that_holds_no_text_is_refused(make_spec, uploads, run):
    spec = make_spec(source={"paths": ["uploads"], "format": "jsonl"}, schema=SCHEMA,
                     sink={"path": "out", "mode": "append"},
                     steps=[STEP, {"op": "cast", "columns": {"text": "int64"},
                                   "on_error": "null"}])
    run(spec, inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    with pytest.raises(SpecError, match=r"steps 'near_dedup' \(scope: dataset\): version 0 "
                                        r"of .*out: column 'text' holds int64, not text"):
        run(spec, inputs=[str(uploads("b.jsonl", jsonl(SECOND)))])


def test_a_table_with_deletion_vectors_is_refused(make_spec, uploads, run):
    spec = spec_for(make_spec)
    first = run(spec, inputs=[str(uploads("a.jsonl", jsonl(FIRST)))])
    DeltaTable(first.path).alter.add_feature(TableFeatures.DeletionVectors,
                                             allow_protocol_versions_increase=True)
    with pytest.raises(SpecError, match=r"steps 'near_dedup' \(scope: dataset\): .*out uses "
                                        r"deletion vectors"):
        run(spec, inputs=[str(uploads("b.jsonl", jsonl(SECOND)))])
