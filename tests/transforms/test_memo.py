"""Values derived from a column shared within one partition's chain (``transforms/memo``):
the quality steps tokenize a text once, and again whenever a step before them changed it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from assay.pipelines.chain import run_chain
from assay.pipelines.routing import HIDDEN
from assay.transforms.memo import chain_scope, derived
from assay.transforms.pii.step import Pii
from assay.transforms.quality import batches
from assay.transforms.quality.c4 import C4Quality
from assay.transforms.quality.fineweb import FineWebQuality
from assay.transforms.quality.gopher import GopherQuality
from assay.transforms.quality.repetition import GopherRepetition
from tests.transforms.quality_corpus import corpus
from tests.transforms.test_quality import PROSE, texts


def counter() -> tuple[list[int], callable]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_a_value_is_derived_once_per_array_inside_a_scope():
    data = pa.array(["a", "bb"], pa.large_string())
    calls, compute = counter()
    with chain_scope():
        assert derived(data, "n", compute) == derived(data, "n", compute) == 1
        assert derived(data.slice(0), "n", compute) == 1  # the same buffers, another object
        equal = pa.array(["a", "bb"], pa.large_string())  # equal text, other buffers
        assert derived(equal, "n", compute) == 2
        assert derived(data, "n", compute) == 3  # one column is kept at a time
        assert derived(data.slice(1), "n", compute) == 4  # a slice is other data
    assert derived(data, "n", compute) == 5  # outside a scope nothing is kept
    assert derived(data, "n", compute) == 6
    assert len(calls) == 6


def test_scopes_do_not_share():
    data = pa.array(["a"], pa.large_string())
    calls, compute = counter()
    with chain_scope():
        derived(data, "n", compute)
        with chain_scope():
            derived(data, "n", compute)
        derived(data, "n", compute)  # the outer scope's entry is back
    assert len(calls) == 2


def partition(*values: str | None) -> pd.DataFrame:
    """``texts`` with the routing columns the engine adds, every row live."""
    frame = texts(*values)
    for column in HIDDEN:
        frame[column] = pd.Series(pd.array([None] * len(frame), dtype="str"),
                                  index=frame.index)
    return frame


@pytest.fixture
def tokenizations(monkeypatch) -> list[int]:
    """How many documents the batches tokenized (the shared tokenizations only)."""
    seen: list[int] = []
    plain, points = batches.tokenize, batches.tokenize_points

    def counted(texts):
        seen.append(len(texts))
        return plain(texts)

    def counted_points(points_, starts):
        seen.append(len(starts) - 1)
        return points(points_, starts)

    monkeypatch.setattr(batches, "tokenize", counted)
    monkeypatch.setattr(batches, "tokenize_points", counted_points)
    return seen


def test_a_chain_tokenizes_the_text_once_for_the_gopher_and_c4_steps(tokenizations):
    frame = partition(*corpus(40), None)
    steps = [GopherQuality(column="text", score_prefix="gq_"),
             GopherRepetition(column="text", score_prefix="gr_"),
             C4Quality(column="text", score_prefix="c4_")]
    chained = run_chain(frame, steps)
    assert sum(tokenizations) == len(frame)  # once, by gopher_quality
    tokenizations.clear()
    data = frame.drop(columns=HIDDEN)
    for step in steps:  # each step alone tokenizes
        data = step.apply(data).frame
    assert sum(tokenizations) == 3 * len(frame)
    pd.testing.assert_frame_equal(chained[data.columns], data)


def test_a_step_that_changes_the_text_invalidates_the_tokens(tokenizations):
    mail = PROSE + "\nWrite to jane.doe@example.com or call +1 415 555 0132 about it."
    frame = partition(mail, PROSE)
    redact_first = [GopherQuality(column="text", score_prefix="a_"), Pii(columns=["text"]),
                    GopherQuality(column="text", score_prefix="b_", name="again"),
                    FineWebQuality(column="text", score_prefix="f_")]
    out = run_chain(frame, redact_first)
    assert sum(tokenizations) == 2 * len(frame)  # the original text, then the redacted one
    assert "<EMAIL>" in out["text"].iloc[0]
    # the scores after the redaction are the redacted text's, as scored on its own
    alone = GopherQuality(column="text", score_prefix="b_").apply(
        texts(*out["text"])).frame
    assert out["b_word_count"].tolist() == alone["b_word_count"].tolist()
    assert out["a_word_count"].iloc[0] != out["b_word_count"].iloc[0]
    assert out["a_word_count"].iloc[1] == out["b_word_count"].iloc[1]
    fineweb = FineWebQuality(column="text", score_prefix="f_").apply(texts(*out["text"]))
    assert out["f_list_ratio"].tolist() == fineweb.frame["f_list_ratio"].tolist()


def test_c4_sentences_from_shared_tokens_match_its_own_tokenization():
    """C4 gives the batch's tokens their lines; lines its citation removal edited (here
    "[1]" glued to a word, "[citation needed]" with its space) are tokenized again."""
    documents = [PROSE.replace("town,", "town[1],").replace("week", "week [citation needed]"),
                 "Line one ends here.\r\nA second line [2] is here too.\rThird line x y.\x85"
                 "Four is [edit] the last one. And a fifth sentence here.", "", None,
                 *corpus(30)]
    frame = partition(*documents)
    gopher, c4 = GopherQuality(column="text"), C4Quality(column="text", score_prefix="c4_")
    shared = run_chain(frame, [gopher, c4])
    alone = c4.apply(frame.drop(columns=HIDDEN)).frame
    pd.testing.assert_series_equal(shared["c4_sentences"], alone["c4_sentences"])
    assert shared["c4_sentences"].iloc[0] == 5


def test_fineweb_decides_alike_with_the_tokens_of_an_earlier_step():
    """FineWeb tokenizes only the documents that may fail its newline rule, unless a step
    before it left the text's tokens: then it reads them for every document."""
    frame = partition(*corpus(200), "\n".join(["one", "two", "three"] * 20), None)
    fineweb = FineWebQuality(column="text")
    shared = run_chain(frame, [GopherQuality(column="text", min_doc_words=None,
                                             min_stop_words=None), fineweb])
    alone = fineweb.apply(frame.drop(columns=HIDDEN))
    removed = alone.removed.to_numpy()
    assert removed.any()
    kept_by_gopher = shared["_stage"].isna() | (shared["_stage"] == "fineweb_quality")
    assert ((shared["_stage"] == "fineweb_quality") == (removed & kept_by_gopher)).all()
    assert shared.loc[removed & kept_by_gopher, "_reasons"].str.contains(
        "fineweb_quality").all()


def test_tokens_beyond_the_shared_characters_are_not_kept(tokenizations, monkeypatch):
    """The memory a chain holds is bounded: only the batches within the first
    SHARED_CHARS characters keep their tokens for the next step."""
    monkeypatch.setattr(batches, "BATCH_CHARS", 2_000)
    monkeypatch.setattr(batches, "SHARED_CHARS", 6_000)
    documents = corpus(40)
    frame = partition(*documents)
    steps = [GopherQuality(column="text", score_prefix="a_"),
             GopherQuality(column="text", score_prefix="b_", name="again")]
    out = run_chain(frame, steps)
    ends = pd.Series([len(text) for text in documents]).cumsum()
    prepared = batches._prepare(pa.array(documents, pa.large_string()))
    kept = sum(len(batch.texts) for batch in prepared.batches
               if int(ends[batch.texts.offset + len(batch.texts) - 1]) <= 6_000)
    assert 0 < kept < len(frame)
    assert sum(tokenizations) == len(frame) + (len(frame) - kept)
    assert out["a_word_count"].tolist() == out["b_word_count"].tolist()
