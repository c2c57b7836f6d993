"""Batch fastText prediction (``assay.transforms.fasttext_infer``) against the C++ binding it
replaces, on the same lid.176 model: the same best label for every text, scores within
single precision, and ``identify`` equal to the binding in every label and printed score."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.transforms import language
from assay.transforms.fasttext_infer.model import read_model
from assay.transforms.fasttext_infer.predict import best_labels, line_tokens
from assay.transforms.language import identify
from tests.transforms.quality_corpus import corpus
from tests.transforms.test_language import SENTENCES

# the binding's float32 against double precision: whole 2 KB documents agree within 4e-6
SCORE_TOLERANCE = 2e-5
TRICKY = [
    "", " ", "x", "\t\v\f\r\x00", "  The committee\twill publish  ", "hello </s> bonjour le monde",
    "</s>", "é</s> suite", "__label__fr hello there", "__label__", "a\x00b\tc\vd\fe\rf",
    "emoji 😀🎉 party 🚀", "ÄÖÜ straße größe", "İstanbul'da yaşıyorum", "Ωμέγα λέξη",
    "日本語のテキスト", "mixed 中文 and English words", "a" * 300, "ab " * 200,
    "Ünïcödé\u00a0non-breaking\u2009spaces", "\u200b zero width", "x" * 5 + "😀" * 5,
]


def reference(lines: list[str]) -> tuple[list[str], np.ndarray]:
    """The binding's label and score for each line (one call each)."""
    predict = language._model().predict
    found = [predict(line + "\n", 1, 0.0, "replace")[0] for line in lines]
    return [label[len("__label__"):] for _, label in found], np.array([s for s, _ in found])


def assert_agrees(lines: list[str]) -> None:
    model = language._batch_model()
    best = best_labels(model, pa.array(lines, pa.large_string()))
    labels, scores = reference(lines)
    ours = [model.labels[i] for i in best.label]
    clear = best.margin >= language._TIE  # a near tie goes to the binding in identify
    assert [a for a, c in zip(ours, clear, strict=True) if c] == \
        [b for b, c in zip(labels, clear, strict=True) if c]
    np.testing.assert_allclose(np.exp(best.log_score)[clear], scores[clear],
                               rtol=SCORE_TOLERANCE)


def test_real_sentences_and_tricky_lines_match_the_binding():
    assert_agrees(list(SENTENCES.values()) + TRICKY)


def test_a_varied_corpus_matches_the_binding_in_every_label_and_score():
    documents = [text.replace("\n", " ")[:500] for text in corpus(300)]
    documents += [text.replace("\n", " ") for text in corpus(60, seed=3)]
    assert_agrees(documents)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*"abcdeéßж中😀 \t\r\v\f\x00<>", "the ", "und ",
                                          "</s>", "__label__"]),
                         max_size=60).map("".join),
                min_size=1, max_size=8))
def test_any_text_matches_the_binding(lines):
    assert_agrees(lines)


def test_identify_equals_the_binding_in_labels_and_printed_scores():
    texts = list(SENTENCES.values()) + TRICKY + [t[:500] for t in corpus(200)]
    labels, scores = identify(pa.array(texts), None, [0.65])
    scored = [t.replace("\n", " ") for t in texts if t.replace("\n", " ").strip()]
    expected_labels, expected_scores = reference(scored)
    expected_scores = np.minimum(expected_scores, 1.0)  # as identify reports them
    ours = [(label, score) for label, score in zip(labels.to_pylist(), scores.to_pylist(),
                                                    strict=True) if label is not None]
    assert [label for label, _ in ours] == expected_labels
    ours_scores = np.array([score for _, score in ours])
    np.testing.assert_allclose(ours_scores, expected_scores, rtol=SCORE_TOLERANCE)
    assert (np.floor(ours_scores * 100) == np.floor(expected_scores * 100)).all()
    assert ((ours_scores < 0.65) == (expected_scores < 0.65)).all()


def test_chunked_columns_and_nulls_are_read_like_arrays():
    chunked = pa.chunked_array([[SENTENCES["fr"], None], ["  ", SENTENCES["de"]]])
    labels, scores = identify(chunked, 500)
    assert labels.to_pylist() == ["fr", None, None, "de"]
    assert scores.is_null().to_pylist() == [False, True, True, False]


def test_lines_split_as_fastText_reads_words():
    tokens, owners = line_tokens(pa.array(["  a\tb  ", "x </s> y", "", "p\x00q"]))
    words = [(t, int(o)) for t, o in zip(tokens.to_pylist(), owners, strict=True) if t]
    assert words == [("a", 0), ("b", 0), ("x", 1), ("p", 3), ("q", 3)]


def test_the_model_file_reads_into_its_176_languages_and_a_full_tree():
    model = language._batch_model()
    assert set(model.labels) == language.model_languages()
    assert model.rows.shape[1] == model.nodes.shape[1] == 16
    children = model.children.ravel()
    assert sorted(children) == list(range(2 * len(model.labels) - 2))  # each node once
    assert (model.children < np.arange(len(model.labels), 2 * len(model.labels) - 1)[:, None]
            ).all()


def test_other_files_are_refused():
    with pytest.raises(ValueError, match="not a fastText model"):
        read_model(b"\x00" * 64)
