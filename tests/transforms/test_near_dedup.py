"""near_dedup: MinHash signatures, bounded bucket pairs, exact Jaccard, and the step on a
real Dask cluster against clusters computed from the definition (``tests.near_corpus``)."""

from __future__ import annotations

import time

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from assay.transforms.key_hash import PRIME
from assay.transforms.near_dedup import NearDedup, minhash
from assay.transforms.near_dedup import edges as near_edges
from assay.transforms.near_dedup import step as near_step
from assay.transforms.near_dedup.candidates import ALL_PAIRS, bucket_pairs
from assay.transforms.near_dedup.components import label_nodes
from assay.transforms.near_dedup.jaccard import pair_jaccard
from assay.transforms.near_dedup.step import s_curve
from assay.transforms.shingles import Shingles, shingle_hashes
from tests.near_corpus import jaccard, near_scores, ngrams, planted, true_clusters

KEY = ["_source_id", "_source_line"]


def documents(texts: list[str | None], lines: list[int] | None = None) -> pd.DataFrame:
    """Live rows of one input, each text's line its place (or ``lines``)."""
    lines = list(range(len(texts))) if lines is None else lines
    return pd.DataFrame({"_source_id": np.zeros(len(texts), dtype="int32"),
                         "_source_line": np.array(lines, dtype="int64"),
                         "text": pd.array(texts, dtype="str")})


def run(step: NearDedup, frame: pd.DataFrame, npartitions: int = 3) -> pd.DataFrame:
    live = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    out = step.apply_dask(live, ["text"], input_bytes=10_000).compute()
    assert len(out) == len(frame)
    return out.sort_values(KEY).reset_index(drop=True)


def _fmix64(h: int) -> int:
    """MurmurHash3's finalizer on a Python int (the definition's)."""
    for shift, multiplier in ((33, 0xFF51AFD7ED558CCD), (33, 0xC4CEB9FE1A85EC53)):
        h = ((h ^ (h >> shift)) * multiplier) % 2**64
    return h ^ (h >> 33)


def _signature(hashes: list[int], count: int, seed: int) -> list[int]:
    """One document's signature from the module's docstring, one n-gram at a time."""
    word = _fmix64(seed)
    values: list[int | None] = [None] * count
    for x in hashes:
        h = _fmix64(x ^ word)
        k = ((h >> 32) * count) >> 32
        low = h & 0xFFFFFFFF
        values[k] = low if values[k] is None else min(values[k], low)
    out = []
    for k, value in enumerate(values):
        block = 0
        while value is None:  # the first filled bin along bin k's probe sequence
            value = next((values[j] for j in minhash.probes(count, seed, block)[k].tolist()
                          if values[j] is not None), None)
            block += 1
        out.append(value)
    return out


def test_signatures_follow_the_definition():
    texts = pa.array([*planted(3, seed=2), "", None, "one two", "a b c d e"])
    shingles = shingle_hashes(texts, "word", 5)
    signature = minhash.signatures(shingles, 16, 7)
    present = np.flatnonzero(shingles.counts > 0)
    assert len(present) == len(texts) - 2  # null and empty texts have no signature
    assert signature.dtype == np.uint32
    for row, doc in enumerate(present):
        x = shingles.hashes[shingles.offsets[doc]:shingles.offsets[doc + 1]].tolist()
        assert signature[row].tolist() == _signature(x, 16, 7)
    single = signature[-1]  # one n-gram: every bin takes its one value
    assert np.all(single == single[0])
    assert not np.array_equal(minhash.signatures(shingles, 16, 8), signature)  # the seed


def test_band_keys_fold_each_band_number_and_its_values():
    signature = np.random.default_rng(3).integers(0, 2**32, (5, 12), dtype=np.uint32)
    keys = minhash.band_keys(signature, 3, 4)
    for doc in range(5):
        for band in range(3):
            h = band + 1
            for value in signature[doc, band * 4:(band + 1) * 4].tolist():
                h = _fmix64((h * int(PRIME) + value) % 2**64)
            assert int(keys[doc, band]) == h
    same = signature.copy()
    same[1, :4] = same[0, :4]  # one equal band: one shared key, in that band only
    keys = minhash.band_keys(same, 3, 4)
    assert keys[0, 0] == keys[1, 0] and len(set(keys[:, 0].tolist())) == 4


def test_signature_values_agree_as_often_as_the_jaccard_similarity():
    """One-permutation hashing's promise: P(value k agrees) = Jaccard, for every k; over
    many random pairs of sets the mean agreement is the mean Jaccard."""
    rng = np.random.default_rng(0)
    gaps = []
    for trial in range(300):
        size = int(rng.integers(3, 300))
        shared = int(rng.integers(0, size + 1))
        common = rng.integers(0, 2**64, shared, dtype=np.uint64)
        left, right = (np.concatenate([common, rng.integers(0, 2**64, size - shared,
                                                            dtype=np.uint64)])
                       for _ in range(2))
        pair = Shingles(np.concatenate([left, right]), np.array([0, size, 2 * size]))
        signature = minhash.signatures(pair, 112, trial)
        gaps.append((signature[0] == signature[1]).mean() - shared / (2 * size - shared))
    assert abs(np.mean(gaps)) < 0.01
    assert np.std(gaps) < 0.05  # about sqrt(J (1 - J) / 112) at most


def test_small_buckets_give_every_pair_and_big_ones_a_star_and_a_chain():
    small = np.arange(5, dtype=np.int64)
    a, b = bucket_pairs(small[::-1].copy(), np.full(5, 9, dtype=np.uint64))
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [(i, j) for i in range(5)
                                                   for j in range(i + 1, 5)]
    n = 3000
    keys = np.random.default_rng(0).permutation(n).astype(np.int64)
    buckets = np.concatenate([np.full(n - 2, 1), [2, 2]]).astype(np.uint64)
    a, b = bucket_pairs(keys, buckets)
    assert len(a) == 2 * (n - 2) - 3 + 1  # star and chain of the big one, the small pair
    assert np.all(a < b) and n - 2 > ALL_PAIRS
    lone_a, _ = bucket_pairs(np.array([4], np.int64), np.array([1], np.uint64))
    assert len(lone_a) == 0


def test_pair_jaccard_is_the_set_jaccard_of_the_ngrams():
    docs = planted(2, seed=3)
    repeated = "one two one two one two one two one two one two"  # n-grams repeat
    left = [*docs, "", None, repeated, "a b c", "Same words, same words"]
    right = [*docs[::-1], "x y z w v", None, repeated + " three four five six seven",
             "A B C!", "same WORDS same words"]
    got = pair_jaccard(pa.array(left), pa.array(right), "word", 5)
    expected = [jaccard(ngrams(x), ngrams(y)) for x, y in zip(left, right, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert 0 < got[-3] < 1 and got[-2] == 1.0 and got[-1] == 1.0


def test_planted_near_duplicates_against_exact_jaccard(dask_client):
    texts = planted(30, seed=5)
    truth = true_clusters(texts, 0.8)
    out = run(NearDedup(column="text", cluster_column="cluster",
                        cluster_size_column="size", keep_removed=True),
              documents(texts))
    removed = out["_removed"].to_numpy()
    # every removed document has a kept near twin (precision 1), few near pairs are missed
    precision, recall = near_scores(texts, removed.tolist(), 0.8)
    assert precision == 1.0 and recall >= 0.95, (precision, recall)
    # a removed document's cluster id is its keeper's key (one input: the keeper's line)
    keeper = out["cluster"].to_numpy()
    assert all(truth[line] == truth[k] for line, k in enumerate(keeper))
    sets = [ngrams(t) for t in texts]
    for line, (gone, kept_by) in enumerate(zip(removed, keeper, strict=True)):
        if kept_by != line:  # a member: removed exactly when it is near its keeper
            assert gone == (jaccard(sets[line], sets[kept_by]) >= 0.8)
    sizes = pd.Series(keeper).map(pd.Series(keeper).value_counts())
    assert (out["size"].to_numpy() == sizes.to_numpy()).all()
    reasons = out.loc[removed, "_removed_reason"]
    assert reasons.str.startswith("near_dedup: near-duplicate of input 0 line ").all()
    assert out.loc[~removed, "_removed_reason"].isna().all()


def test_every_removed_document_is_verified_at_the_threshold(dask_client):
    texts = planted(12, seed=6)
    for threshold in (0.6, 0.9):
        out = run(NearDedup(column="text", threshold=threshold, cluster_column="cluster",
                            keep_removed=True), documents(texts))
        sets = [ngrams(t) for t in texts]
        for line in np.flatnonzero(out["_removed"]):
            exact = jaccard(sets[line], sets[int(out.loc[line, "cluster"])])  # its keeper
            stated = float(out.loc[line, "_removed_reason"].split("Jaccard ")[1][:-1])
            assert threshold <= stated <= exact < stated + 0.001  # floored to 3 decimals


def test_clusters_are_transitive_and_the_keeper_is_the_smallest_lineage(dask_client):
    rng = np.random.default_rng(8)
    words = [f"w{i}" for i in range(100)]
    a = list(rng.choice(words, 200))
    b = a[:170] + list(rng.choice(words, 30))  # a~b and b~c, but not a~c
    c = b[:30] + list(rng.choice(words, 30)) + b[60:]
    texts = [" ".join(x) for x in (a, b, c)]
    sets = [ngrams(t) for t in texts]
    assert jaccard(sets[0], sets[1]) >= 0.7 and jaccard(sets[1], sets[2]) >= 0.7
    assert jaccard(sets[0], sets[2]) < 0.7
    frame = documents(texts, lines=[30, 10, 20]).assign(_source_id=np.int32(1))
    frame = pd.concat([frame, documents(["unrelated words only here"], [99])])
    out = run(NearDedup(column="text", threshold=0.7, bands=40, rows_per_band=4,
                        cluster_column="cluster", cluster_size_column="size"),
              frame, npartitions=2)  # 40 x 4: a pair at 0.7 is a candidate surely
    assert out["_removed"].tolist() == [False, False, True, True]  # 0/99, b, c, a
    keeper = (1 << 40) | 10
    assert out["cluster"].tolist() == [99, keeper, keeper, keeper]
    assert out["size"].tolist() == [1, 3, 3, 3]


def test_a_giant_cluster_of_identical_documents_is_linear(dask_client):
    texts = ["the same page of boilerplate " * 40] * 3000 + planted(3, seed=9)
    started = time.process_time()
    out = run(NearDedup(column="text", cluster_size_column="size"), documents(texts), 4)
    assert time.process_time() - started < 60
    assert out["_removed"].iloc[:3000].sum() == 2999
    precision, recall = near_scores(texts[3000:], out["_removed"].iloc[3000:].tolist(), 0.8)
    assert precision == 1.0 and recall >= 0.95
    assert out["size"].iloc[0] == 3000 and not out["_removed"].iloc[0]


def test_null_empty_and_wordless_texts_are_never_near_duplicates(dask_client):
    texts = [None, "", "  ", "!!! ???", "!!! ???", None, "", "words here and there"] * 3
    out = run(NearDedup(column="text", unit="word"), documents(texts))
    assert out["_removed"].sum() == 2  # only the two later copies of the real sentence
    chars = run(NearDedup(column="text", unit="char"), documents(texts))
    assert chars["_removed"].sum() == 2 + 5  # "!!! ???" has characters; copies go
    alone = run(NearDedup(column="text", cluster_size_column="size"),
                documents([None, "", "alpha beta gamma delta epsilon zeta"]))  # no edge
    assert not alone["_removed"].any() and alone["size"].tolist() == [1, 1, 1]


def test_the_result_does_not_depend_on_the_partitioning(dask_client, monkeypatch):
    texts = planted(10, seed=10)
    frame = documents(texts, lines=list(range(len(texts)))[::-1])
    step = NearDedup(column="text", cluster_column="cluster", keep_removed=True,
                     partition_bytes=2_000)
    one = run(step, frame, 1)
    monkeypatch.setattr(near_edges, "_CHUNK_BYTES", 5_000)  # n-grams of two texts at a time
    five = run(step, frame, 5)
    pd.testing.assert_frame_equal(one, five)
    assert one["_removed"].any()


def test_rows_bytes_count_the_values_whatever_the_partitioning():
    texts = ["héllo wörld", None, "", "x" * 1000]
    frame = near_edges.with_key(documents(texts)).assign(tags=pd.Series([{}, 1, "a", None],
                                                                        dtype=object))
    whole = int(near_edges.rows_bytes(frame).iloc[0])
    one_by_one = sum(int(near_edges.rows_bytes(frame.iloc[[i]]).iloc[0]) for i in range(4))
    text_bytes = len("héllo wörld".encode()) + 1000  # UTF-8 bytes; object values: 8 each
    assert whole == one_by_one == 8 * len(frame) * len(frame.columns) + text_bytes


def test_the_rows_merge_has_a_partition_per_partition_bytes_of_rows(dask_client):
    texts = planted(6, seed=13)  # 48 documents of 300 words: ~100 KB of text
    frame = documents(texts)
    held = int(near_edges.rows_bytes(near_edges.with_key(frame)).iloc[0])
    step = NearDedup(column="text", cluster_column="cluster", partition_bytes=20_000)
    live = dd.from_pandas(frame, npartitions=2, sort=False)
    out = step.apply_dask(live, ["text"], input_bytes=10_000)  # the upload: one partition
    assert out.npartitions == -(-held // 20_000) > 1  # the rows in memory set the count
    rows = out.compute().sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, run(step.model_copy(update={
        "partition_bytes": 10**9}), frame))  # the same rows as in one partition
    assert rows["_removed"].any()


def test_one_task_labels_are_each_components_smallest_node():
    rng = np.random.default_rng(11)
    nodes = rng.choice(10**12, 400, replace=False).astype(np.int64)
    a, b = rng.choice(nodes, 300), rng.choice(nodes, 300)  # sparse: many components
    chain = np.sort(rng.choice(nodes, 60, replace=False))[::-1]  # a long path, reversed
    a, b = np.concatenate([a, chain[:-1]]), np.concatenate([b, chain[1:]])
    keep = a != b
    a, b = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    got_nodes, labels = label_nodes(a, b)
    component = {int(n): {int(n)} for n in got_nodes}  # merged sets, by the definition
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        if component[x] is not component[y]:
            merged = component[x] | component[y]
            for n in merged:
                component[n] = merged
    assert got_nodes.tolist() == sorted(component)
    assert labels.tolist() == [min(component[int(n)]) for n in got_nodes]
    empty_nodes, empty_labels = label_nodes(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty_nodes) == len(empty_labels) == 0


def test_one_task_and_spread_clusters_give_the_same_rows(dask_client, monkeypatch):
    rng = np.random.default_rng(12)
    words = [f"w{i}" for i in range(100)]
    base = list(rng.choice(words, 200))
    chain = [base]
    for i in range(4):  # each a near twin of the last, a new stretch of 25 words changed
        chain.append(chain[-1][:25 * i] + list(rng.choice(words, 25)) + chain[-1][25 * i + 25:])
    texts = [" ".join(x) for x in chain] + planted(8, seed=12)
    step = NearDedup(column="text", threshold=0.7, bands=40, rows_per_band=4,
                     cluster_column="cluster", cluster_size_column="size", keep_removed=True)
    one = run(step, documents(texts))
    monkeypatch.setattr(near_step, "SMALL_EDGES", 0)  # the Dask rounds
    spread = run(step, documents(texts))
    pd.testing.assert_frame_equal(one, spread)
    assert one["_removed"].any() and not one["_removed"].all()
    sets = [ngrams(t) for t in texts]  # the keeper's direct twin goes, the chain's rest
    assert jaccard(sets[0], sets[1]) >= 0.7 > jaccard(sets[0], sets[2])  # is not near it
    assert one["_removed"].iloc[:5].tolist() == [False, True, False, False, False]
    assert (one["size"].iloc[:5] == 5).all()


@pytest.mark.parametrize("broadcast", [8, 0])  # texts joined where they lie, or shuffled
def test_with_texts_gives_each_pair_once_with_both_texts(dask_client, monkeypatch, broadcast):
    monkeypatch.setattr(near_edges, "BROADCAST_PARTITIONS", broadcast)
    texts = [f"document number {i}" for i in range(12)]
    keyed = near_edges.with_key(documents(texts))
    a = np.array([0, 3, 0, 5, 3, 11, 0], np.int64)  # (0, 7) three times, over partitions
    b = np.array([7, 4, 7, 6, 4, 2, 7], np.int64)
    pairs = dd.from_pandas(pd.DataFrame({"a": a, "b": b, "tag": a * 100 + b}), npartitions=3)
    got = near_edges.with_texts(pairs, dd.from_pandas(keyed, npartitions=4), ("a", "b"),
                                "text", 2).compute()
    got = got.sort_values(["a", "b"]).reset_index(drop=True)
    assert list(got.columns) == ["a", "b", "tag", "text_a", "text_b"]
    assert got[["a", "b"]].values.tolist() == [[0, 7], [3, 4], [5, 6], [11, 2]]
    assert got["text_a"].tolist() == [texts[i] for i in got["a"]]
    assert got["text_b"].tolist() == [texts[i] for i in got["b"]]
    assert (got["tag"] == got["a"] * 100 + got["b"]).all()


def test_bad_keys_are_refused_with_a_clear_message():
    for bad, words in [({"threshold": 0}, "greater than 0"),
                       ({"threshold": 1.5}, "less than or equal to 1"),
                       ({"ngram": 0}, "greater than or equal to 1"),
                       ({"bands": 0}, "greater than or equal to 1"),
                       ({"unit": "line"}, "'word' or 'char'"),
                       ({"scope": "table"}, "'run' or 'dataset'")]:
        with pytest.raises(ValidationError, match=words):
            NearDedup(column="text", **bad)
    with pytest.raises(ValueError, match="no such column"):
        NearDedup(column="body").output_columns(["text"])
    with pytest.raises(ValueError, match="already exist"):
        NearDedup(column="text", cluster_column="text").output_columns(["text"])
    assert NearDedup(column="text", cluster_column="c").output_columns(["text"]) == [
        "text", "c"]


def test_a_column_that_is_not_text_is_refused(dask_client):
    frame = documents(["a b"]).assign(text=[3])
    with pytest.raises(ValueError, match="column 'text' holds int64, not text"):
        NearDedup(column="text").apply_dask(dd.from_pandas(frame, npartitions=1),
                                            ["text"], 100)


def test_the_s_curve_the_defaults_document():
    assert s_curve(0.8, 14, 8) == pytest.approx(0.924, abs=1e-3)
    assert s_curve(0.5, 14, 8) < 0.06 < 0.99 < s_curve(0.9, 14, 8)
    assert "0.8: 0.9235" in NearDedup.model_fields["bands"].description
