"""The text benchmarks at a tiny size: the corpus's truth is exact and complete, the scores
mean what the harness says, and both harnesses run their peers end to end."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import run_near_dedup, run_text_steps, text_corpus, text_measure
from benchmarks.text_corpus import CorpusSpec

DOCS = 200


def _shingles(text: str) -> frozenset[str]:
    """The truth's definition, written again here so the test does not trust the module."""
    ws = re.findall(r"\w+", text.lower())
    if len(ws) < 5:
        return frozenset([" ".join(ws)])
    return frozenset(" ".join(ws[i:i + 5]) for i in range(len(ws) - 4))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_corpus, "DATA", data)
        return text_corpus.ensure(CorpusSpec(DOCS, seed=7))


@pytest.fixture
def bench_dirs(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The harnesses find the module's corpus and write under ``tmp_path``."""
    monkeypatch.setattr(text_corpus, "DATA", corpus.parent)
    monkeypatch.setattr(run_near_dedup, "OUT", tmp_path / "near_dedup")
    monkeypatch.setattr(run_text_steps, "OUT", tmp_path / "text_steps")
    monkeypatch.setattr(text_measure, "TIMEOUT_S", 120.0)  # a hung peer fails, not blocks
    return tmp_path


def _docs(corpus: Path) -> list[str]:
    table = pq.read_table(sorted(corpus.glob("docs-*.parquet")))
    assert table["id"].to_pylist() == list(range(DOCS))
    return table["text"].to_pylist()


def test_the_truth_is_every_pair_above_half_with_its_exact_jaccard(corpus: Path) -> None:
    docs = _docs(corpus)
    sets = [_shingles(d) for d in docs]
    truth = pq.read_table(corpus / "truth.parquet").to_pylist()
    info = json.loads((corpus / "corpus.json").read_text())

    brute = {}
    for a, b in itertools.combinations(range(DOCS), 2):
        inter = len(sets[a] & sets[b])
        if inter and inter / len(sets[a] | sets[b]) >= 0.5:
            brute[a, b] = inter / len(sets[a] | sets[b])
    above = {(r["a"], r["b"]): r["jaccard"] for r in truth if r["jaccard"] >= 0.5}
    assert above == brute  # complete: no pair at or above 0.5 is missing, none is extra
    for r in truth:
        x, y = sets[r["a"]], sets[r["b"]]
        assert (r["intersection"], r["union"]) == (len(x & y), len(x | y))
    planted = [r for r in truth if r["planted"]]
    assert len(planted) == info["planted_pairs"] == round(DOCS * 0.1)
    spread = [r["jaccard"] for r in planted]
    assert min(spread) < 0.65 and max(spread) == 1.0  # targets drawn over 0.5..1.0
    assert 2000 <= np.median([len(d) for d in docs]) <= 2600  # paragraphs until 2,000 chars


def test_the_corpus_is_the_same_for_the_same_seed_and_other_for_another() -> None:
    spec = CorpusSpec(40, seed=3)
    assert text_corpus.build(spec) == text_corpus.build(spec)
    assert text_corpus.build(CorpusSpec(40, seed=4))[0] != text_corpus.build(spec)[0]


def test_a_near_duplicate_lands_near_its_target() -> None:
    rng = np.random.default_rng(0)
    pool = text_corpus.source_paragraphs()
    base = "\n\n".join(pool[1000:1020])
    vocabulary = sorted({w for p in pool[:2000] for w in re.findall(r"\w+", p)})
    for target in (0.55, 0.7, 0.85, 0.95):
        copy = text_corpus.near_duplicate(base, target, vocabulary, rng)
        x, y = _shingles(base), _shingles(copy)
        assert abs(len(x & y) / len(x | y) - target) < 0.03


def test_precision_needs_a_kept_twin_and_recall_counts_broken_pairs() -> None:
    truth = pa.table({"a": [0, 0, 3], "b": [1, 2, 4], "jaccard": [0.9, 0.85, 0.6]})
    # removed 1 (twin 0 kept: right), 2 (twin 0 kept: right), 5 (no twin: wrong)
    got = run_near_dedup.score(np.array([1, 2, 5]), 6, truth, 0.8)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == 1.0  # both pairs at >= 0.8 broken up
    # keeping 3 and 4: the 0.6 pair survives, so at 0.5 recall is 2/3
    assert run_near_dedup.score(np.array([1, 2]), 6, truth, 0.5)["recall"] == pytest.approx(2 / 3)
    # removing 0 and 1: 0 has its kept twin 2, but 1's only twin is gone
    assert run_near_dedup.score(np.array([0, 1]), 6, truth, 0.8)["precision"] == 0.5
    assert run_near_dedup.score(np.array([], dtype=np.int64), 6, truth, 0.8)["precision"] is None


def test_assay_is_skipped_with_a_reason_while_its_steps_are_not_registered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import assay.transforms.base as base

    monkeypatch.setattr(base, "registered_steps", lambda: {})
    assert "'near_dedup' step is not registered yet" in run_near_dedup.assay_missing()
    assert run_text_steps.unregistered() == list(run_text_steps.TEXT_STEPS)


def test_near_dedup_harness_runs_the_peers(bench_dirs: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    result = bench_dirs / "nd.json"
    code = run_near_dedup.main(["--docs", str(DOCS), "--seed", "7", "--peers-only",
                                "--curve", "0.6,0.9", "--json", str(result)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(result.read_text())
    runs = {r["tool"]: r for r in report["sizes"][0]["runs"]}
    assert set(runs) == {"datatrove", "datasketch"}
    for run in runs.values():
        assert run["error"] is None and run["work_cpu_s"] > 0 and run["peak_process_mib"] > 0
        assert [s["bar"] for s in run["scores"]] == [0.6, 0.8, 0.9]
        at = run["scores"][1]
        assert at["removed"] > 0 and 0 < at["precision"] <= 1 and 0 < at["recall"] <= 1
    assert "assay skipped: --peers-only" in printed
    assert "n/a   200 docs: assay precision at Jaccard >= 0.8" in printed


def test_text_steps_harness_runs_datatrove_filters(bench_dirs: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    result = bench_dirs / "ts.json"
    code = run_text_steps.main(["--docs", str(DOCS), "--seed", "7", "--peers-only",
                                "--steps", "language_id", "--json", str(result)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(result.read_text())
    datatrove = report["results"]["datatrove-filters"]
    assert set(datatrove["runs"]) == {"baseline", "language_id"}  # one step: no "together"
    assert all(run["error"] is None for run in datatrove["runs"].values())
    assert datatrove["rates"]["language_id"]["whole"] > 0
    assert "n/a   quality + language + PII together" in printed


def test_a_corpus_without_its_truth_is_built_and_completed_on_demand(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_corpus, "DATA", tmp_path)
    spec = CorpusSpec(60, seed=5)
    folder = text_corpus.ensure(spec, with_truth=False)
    assert text_corpus.read_truth(folder) is None and len(text_corpus.doc_files(folder)) == 8
    assert json.loads((folder / "corpus.json").read_text())["truth_pairs"] is None
    assert text_corpus.ensure(spec, with_truth=False) == folder  # built once
    text_corpus.ensure(spec)  # asked with the truth: rebuilt with it, the same documents
    truth = text_corpus.read_truth(folder)
    assert truth is not None and truth.num_rows >= 6  # the planted pairs at least


def test_corpus_files_are_cut_into_row_groups_and_rebuilt_when_the_cut_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of ``row_group_docs`` documents, as dataset writers cut them: the reader
    makes a block of each instead of decoding slices of one big group."""
    import dataclasses

    import pyarrow.parquet as pq

    monkeypatch.setattr(text_corpus, "DATA", tmp_path)
    spec = CorpusSpec(80, seed=5, row_group_docs=4)
    folder = text_corpus.ensure(spec, with_truth=False)
    groups = [pq.ParquetFile(f).metadata for f in text_corpus.doc_files(folder)]
    assert [m.num_row_groups for m in groups] == [3] * 8  # 10 documents a file
    assert {m.row_group(0).num_rows for m in groups} == {4}
    built = (folder / "corpus.json").stat().st_mtime_ns
    assert text_corpus.ensure(spec, with_truth=False) == folder
    assert (folder / "corpus.json").stat().st_mtime_ns == built  # not rebuilt
    text_corpus.ensure(dataclasses.replace(spec, row_group_docs=10), with_truth=False)
    assert [pq.ParquetFile(f).metadata.num_row_groups
            for f in text_corpus.doc_files(folder)] == [1] * 8


def test_targets_take_accuracy_from_the_largest_size_with_a_truth_and_memory_per_step(
) -> None:
    def size(docs: int, peak: float, scores: list[dict]) -> dict:
        """assay in process (its accuracy counts) and on worker processes (their peak)."""
        run = {"error": None, "cores": 2, "work_cpu_s": 1.0, "work_wall_s": 1.0}
        return {"docs": docs, "runs": [
            {**run, "tool": "assay", "peak_process_mib": 10 * peak, "scores": scores},
            {**run, "tool": "assay-workers", "peak_process_mib": peak, "scores": []}]}

    scored = [{"bar": 0.8, "precision": 1.0, "recall": 0.97}]
    lines = run_near_dedup.targets([size(10, 200, scored), size(100, 290, scored),
                                    size(1000, 500, [])])  # no truth at the largest
    verdicts = {what: measured for what, measured, *_ in lines}
    assert verdicts["100 docs: assay precision at Jaccard >= 0.8"] == 1.0
    assert verdicts["100 docs: assay recall at Jaccard >= 0.8"] == 0.97
    assert verdicts["assay-workers peak per worker, 100 / 10 docs"] == pytest.approx(1.45)
    assert (verdicts["assay-workers peak per worker, 1,000 / 100 docs"]
            == pytest.approx(500 / 290))


def test_target_lines_compare_each_way_and_say_what_was_not_measured() -> None:
    lines = text_measure.verdict_lines([
        ("precision", 0.995, ">=", 0.99, ""), ("speed", 1.0, ">", 1.0, "x"),
        ("memory", 1.2, "<=", 1.5, "x"), ("recall", None, ">=", 0.95, "")])
    assert [line.split()[0] for line in lines] == ["PASS", "FAIL", "PASS", "n/a"]


def test_the_assay_runner_publishes_the_corpus_and_reports_what_a_step_removed(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path both harnesses take for assay (a spec on the corpus, ``assay.run``, the
    removed ids read back from the published table), with a step that exists today."""
    monkeypatch.setattr(text_measure, "TIMEOUT_S", 120.0)
    steps = [{"op": "filter", "keep": {"column": "id", "op": "ge", "value": 190}}]
    run = text_measure.run_text_tool("assay", corpus, tmp_path / "assay", 1,
                                     {"steps": steps}, cores=1)
    assert run["error"] is None, run["error"]
    assert run["removed_ids"].tolist() == list(range(190))
    assert run["work_cpu_s"] > 0 and run["work_wall_s"] < run["wall_s"]
