"""The quality filters' steps: scores kept as columns, reasons with value and threshold,
null texts, C4's rewrite, and every spec key's validation (tests/transforms/
test_quality_oracle.py checks the decisions against datatrove's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import parse_spec
from assay.transforms.base import REASON_SEP
from assay.transforms.quality.c4 import C4Quality
from assay.transforms.quality.fineweb import FineWebQuality
from assay.transforms.quality.gopher import GopherQuality
from assay.transforms.quality.repetition import GopherRepetition
from assay.transforms.quality.tokens import tokenize
from tests.transforms.helpers import apply_checked, removed_list

PROSE = """The river runs past the old mill and into the town, where the market has been held every week for as long as anyone can remember.
Farmers bring their fruit, bakers bring their bread, and the children run between the stalls with their friends.
In the summer the square is full of music, and visitors from the villages nearby come to see the dancing.
When winter arrives, the stalls move under the arches of the town hall to keep out of the wind.
Nobody seems to mind the cold very much, because the soup sold at the corner is said to be the best in the county."""  # noqa: E501
STEPS = [GopherQuality, GopherRepetition, C4Quality, FineWebQuality]


def texts(*values: str | None) -> pd.DataFrame:
    """A partition of ``values`` with a non-contiguous index, as the engine's can be."""
    index = [10 * i + 3 for i in range(len(values))]
    return pd.DataFrame({"id": pd.Series(range(len(values)), index=index, dtype="Int64"),
                         "text": pd.Series(list(values), index=index, dtype="str")})


def scores(result, prefix: str) -> pd.DataFrame:
    return result.frame[[c for c in result.frame.columns if c.startswith(prefix)]]


@pytest.mark.parametrize("step", STEPS)
def test_keeps_prose_and_keeps_the_contract(step):
    frame = texts(PROSE, None, "")
    result = apply_checked(step(column="text", score_prefix="q_"), frame)
    assert removed_list(result) == [False, True, True]
    names = step(column="text").score_names()
    assert list(scores(result, "q_").columns) == [f"q_{n}" for n in names]
    assert scores(result, "q_").dtypes.unique().tolist() == [np.dtype("float64")]
    assert scores(result, "q_").iloc[1].isna().all()  # a null text has no score
    assert result.fate == "dropped"


@pytest.mark.parametrize("step", STEPS)
def test_null_text_is_removed_with_a_reason_naming_the_column(step):
    result = step(column="text").apply(texts(None, PROSE))
    assert removed_list(result) == [True, False]
    assert result.reason.tolist()[0] == f"{step(column='text').op}: text is null"


def test_texts_shorter_than_the_n_grams_score():
    result = GopherRepetition(column="text", score_prefix="gr_").apply(texts("a", "b c", ""))
    assert result.frame["gr_top_2_gram_char_frac"].tolist()[1] == 1.0  # "b c" is 3 of 3
    assert np.isnan(result.frame["gr_top_2_gram_char_frac"].tolist()[0])
    assert result.frame["gr_dup_5_gram_char_frac"].tolist()[:2] == [0.0, 0.0]
    assert result.reason.tolist()[2] == "gopher_repetition: characters 0 < 1"  # empty


def test_without_a_prefix_no_column_is_added():
    frame = texts(PROSE)
    assert list(GopherQuality(column="text").apply(frame).frame.columns) == ["id", "text"]


def test_gopher_quality_scores_and_reasons():
    lists = "\n".join(f"- item number {i} of the list #tag" for i in range(60))
    long_words = " ".join(["extraordinarily", "incomprehensibilities"] * 40) + " the and"
    result = GopherQuality(column="text", score_prefix="gq_").apply(
        texts(PROSE, lists, long_words))
    got = scores(result, "gq_")
    assert got["gq_stop_words"].tolist()[0] == 6  # the, be, to, of, and, with
    assert got["gq_bullet_lines_ratio"].tolist()[1] == 1.0
    assert got["gq_hash_ratio"].tolist()[1] == pytest.approx(60 / (60 * 9))
    assert got["gq_mean_word_length"].tolist()[2] == pytest.approx(
        (15 + 21) * 40 / 80 + 0, rel=0.1)
    reasons = result.reason.tolist()
    assert reasons[0] == ""
    assert reasons[1].split(REASON_SEP) == [  # "-" and "#" are tokens without a letter
        "gopher_quality: hash_ratio 0.111 > 0.1",
        "gopher_quality: bullet_lines_ratio 1 > 0.9",
        "gopher_quality: alpha_words_ratio 0.667 < 0.8",
    ]
    assert reasons[2] == "gopher_quality: mean_word_length 17.634 > 10"


def test_scores_let_thresholds_be_retuned_without_recomputing():
    frame = texts(PROSE, PROSE, "word " * 30, "a b c " * 40)
    kept = GopherQuality(column="text", score_prefix="gq_").apply(frame).frame
    looser = GopherQuality(column="text", min_doc_words=20).apply(frame)
    retuned = (kept["gq_word_count"] < 20) | (kept["gq_mean_word_length"] < 3) | (
        kept["gq_stop_words"] < 2) | (kept["gq_alpha_words_ratio"] < 0.8)
    assert removed_list(looser) == retuned.tolist()


def test_a_threshold_set_to_null_turns_its_rule_off():
    short = texts("The farmer and the baker walked together to market.")
    assert removed_list(GopherQuality(column="text").apply(short)) == [True]
    assert removed_list(GopherQuality(column="text", min_doc_words=None).apply(short)) == \
        [False]


def test_gopher_repetition_names_the_repeated_lines():
    line = "Buy the best shoes in town at our shop today"
    result = GopherRepetition(column="text", score_prefix="gr_").apply(
        texts("\n".join([line] * 6 + [PROSE]), PROSE))
    assert removed_list(result) == [True, False]
    assert result.frame["gr_dup_line_frac"].tolist()[0] == pytest.approx(5 / 11)
    assert "gopher_repetition: dup_line_frac 0.455 > 0.3" in result.reason.tolist()[0]


def test_c4_rewrites_the_kept_documents_to_their_kept_lines():
    kept = "\n".join([PROSE.strip(), "Home | About | Contact", "Please enable JavaScript "
                      "to see the comments.", "It was the best of times[1]. It was the worst."])
    lorem = PROSE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."
    result = C4Quality(column="text", score_prefix="c4_").apply(texts(kept, lorem))
    assert removed_list(result) == [False, True]
    assert result.frame["text"].tolist()[0] == \
        PROSE.strip() + "\nIt was the best of times. It was the worst."
    assert result.frame["text"].tolist()[1] == lorem  # a removed document is left as it was
    assert result.frame["c4_kept_lines"].tolist() == [6, 6]
    assert result.reason.tolist()[1] == "c4_quality: lorem_ipsum 1 > 0"


def test_fineweb_flags_lists_and_empty_documents():
    menu = "\n".join(["Home", "About", "Shop", "Blog", "Contact us", "Login"])
    result = FineWebQuality(column="text", score_prefix="fw_").apply(texts(menu, " \n "))
    assert result.reason.tolist()[0].split(REASON_SEP) == [
        "fineweb_quality: line_punct_ratio 0 < 0.12",
        "fineweb_quality: short_line_ratio 1 > 0.67",
        "fineweb_quality: list_ratio 0.714 > 0.3",
    ]
    assert result.reason.tolist()[1] == "fineweb_quality: lines 0 < 1"
    spared = FineWebQuality(column="text", line_punct_exclude_zero=True).apply(texts(menu))
    assert "line_punct_ratio" not in spared.reason.tolist()[0]


@pytest.mark.parametrize(("step", "keys", "message"), [
    (GopherQuality, {"min_doc_words": -1}, "greater than or equal to 0"),
    (GopherQuality, {"max_bullet_lines_ratio": 1.5}, "less than or equal to 1"),
    (GopherQuality, {"min_doc_words": 500, "max_doc_words": 50},
     "min_doc_words/max_doc_words: the minimum 500 is above the maximum 50"),
    (GopherQuality, {"min_avg_word_length": 12},
     "min_avg_word_length/max_avg_word_length: the minimum 12 is above the maximum 10"),
    (GopherQuality, {"max_symbol_word_ratio": "lots"}, "valid number"),
    (GopherQuality, {"min_alpha_words_ratio": -0.1}, "greater than or equal to 0"),
    (GopherQuality, {"max_ellipsis_lines_ratio": 2}, "less than or equal to 1"),
    (GopherQuality, {"min_stop_words": -2}, "greater than or equal to 0"),
    (GopherQuality, {"stop_words": []}, "at least 1 item"),
    (GopherQuality, {"score_prefix": ""}, "at least 1 character"),
    (GopherQuality, {"threshold": 3}, "Extra inputs are not permitted"),
    (GopherRepetition, {"dup_line_frac": 1.2}, "less than or equal to 1"),
    (GopherRepetition, {"dup_para_frac": -1}, "greater than or equal to 0"),
    (GopherRepetition, {"dup_line_char_frac": 3}, "less than or equal to 1"),
    (GopherRepetition, {"dup_para_char_frac": "x"}, "valid number"),
    (GopherRepetition, {"top_n_grams": {0: 0.2}}, "top_n_grams: n-gram size 0"),
    (GopherRepetition, {"dup_n_grams": {5: 1.5}}, "the fraction for 5-grams, 1.5"),
    (C4Quality, {"min_num_sentences": -1}, "greater than or equal to 0"),
    (C4Quality, {"min_words_per_line": -3}, "greater than or equal to 0"),
    (C4Quality, {"max_word_length": 0}, "greater than or equal to 1"),
    (C4Quality, {"filter_policy": "sometimes"}, "valid boolean"),
    (C4Quality, {"split_paragraph": False}, "Extra inputs are not permitted"),
    (FineWebQuality, {"line_punct_thr": 2}, "less than or equal to 1"),
    (FineWebQuality, {"short_line_thr": -0.5}, "greater than or equal to 0"),
    (FineWebQuality, {"short_line_length": -1}, "greater than or equal to 0"),
    (FineWebQuality, {"char_duplicates_ratio": 1.01}, "less than or equal to 1"),
    (FineWebQuality, {"new_line_ratio": -1}, "greater than or equal to 0"),
    (FineWebQuality, {"stop_chars": ["..."]}, "at most 1 character"),
    (FineWebQuality, {"stop_chars": []}, "at least 1 item"),
    (FineWebQuality, {"line_punct_exclude_zero": "maybe"}, "valid boolean"),
])
def test_bad_keys_are_refused_with_a_message(step, keys, message):
    with pytest.raises(ValidationError, match=message):
        step(column="text", **keys)


SCHEMA = {"columns": [{"name": "id", "type": "int64"}, {"name": "body", "type": "string"}]}


def _spec_error(step: dict, tmp_path: Path) -> str:
    data = {"name": "t", "source": {"paths": ["u"]}, "schema": SCHEMA, "sink": {"path": "o"},
            "steps": [step]}
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "pipeline.yaml", tmp_path)
    return str(caught.value)


@pytest.mark.parametrize("op", ["gopher_quality", "gopher_repetition", "c4_quality",
                                "fineweb_quality"])
def test_spec_errors_name_the_step_and_the_column(op, tmp_path):
    assert "steps[0]: " in _spec_error({"op": op, "column": "text"}, tmp_path)
    assert f"{op}: no such column(s) ['text']" in _spec_error({"op": op, "column": "text"},
                                                              tmp_path)
    assert f"{op}: column id is Int64, not a string column" in _spec_error(
        {"op": op, "column": "id"}, tmp_path)
    assert f"steps[0].{op}.column: Field required" in _spec_error({"op": op}, tmp_path)


def test_a_score_column_may_not_overwrite_a_column(tmp_path):
    SCHEMA["columns"].append({"name": "q_stop_words", "type": "float64"})
    try:
        message = _spec_error({"op": "gopher_quality", "column": "body", "score_prefix": "q_",
                               "name": "gq"}, tmp_path)
    finally:
        SCHEMA["columns"].pop()
    assert "steps[0]: gq: score_prefix 'q_' names existing column(s) ['q_stop_words']" \
        in message


def test_a_spec_threshold_error_names_its_key(tmp_path):
    message = _spec_error({"op": "gopher_quality", "column": "body",
                           "max_avg_word_length": -1}, tmp_path)
    assert "steps[0].gopher_quality.max_avg_word_length" in message


TRICKY = ["", "a", "a\n", "\n", "- a\r\n- b", "a\r\rb\n\n", "x\u2028 • y\x85z\x1c", "....",
          ".....\n", "a...b...", "##\n#", "…\r\n", "\r", "\n\r", " \t- x...  \n\x1f•y…",
          "-\n-\n\n...", "a … \r\nb..."]


@pytest.mark.parametrize("text", TRICKY)
def test_gopher_line_and_mark_counts_follow_python(text):
    """Lines as ``str.splitlines`` cuts them, bullets after ``lstrip``, ellipses before
    ``rstrip``, and ``str.count`` of '#', '...' and '…' (datatrove's definitions)."""
    got = GopherQuality(column="text", score_prefix="q_").apply(texts(text)).frame.iloc[0]
    lines = text.splitlines()
    bullets = sum(line.lstrip().startswith(("•", "-")) for line in lines)
    ends = sum(line.rstrip().endswith(("...", "…")) for line in lines)
    if lines:
        assert got["q_bullet_lines_ratio"] == pytest.approx(bullets / len(lines))
        assert got["q_ellipsis_lines_ratio"] == pytest.approx(ends / len(lines))
    else:
        assert np.isnan(got["q_bullet_lines_ratio"]) and np.isnan(got["q_ellipsis_lines_ratio"])
    tokens = len(tokenize(pa.array([text], pa.large_string())).doc)
    if tokens:
        assert got["q_hash_ratio"] * tokens == pytest.approx(text.count("#"))
        assert got["q_ellipsis_ratio"] * tokens == pytest.approx(
            text.count("...") + text.count("…"))


def test_c4_counts_words_split_by_any_unicode_space():
    lines = "Three\u00a0short\u2009words.\nTwo\u00a0words.\n" + PROSE
    result = C4Quality(column="text").apply(texts(lines))
    assert result.frame["text"].tolist()[0].split("\n")[0] == "Three\u00a0short\u2009words."
    assert "Two\u00a0words." not in result.frame["text"].tolist()[0]


@pytest.mark.parametrize("step", STEPS)
def test_scores_do_not_depend_on_how_a_partition_is_batched(step, monkeypatch):
    from assay.transforms.quality import batches
    from tests.transforms.quality_corpus import corpus

    frame = texts(*corpus(60), None)
    whole = step(column="text", score_prefix="q_").apply(frame)
    monkeypatch.setattr(batches, "BATCH_CHARS", 700)  # many batches, some of one document
    batched = step(column="text", score_prefix="q_").apply(frame)
    pd.testing.assert_frame_equal(batched.frame, whole.frame)
    assert batched.reason.tolist() == whole.reason.tolist()


def test_repetition_lines_are_those_of_re_split():
    import re

    from assay.transforms.quality.repetition import _lines

    cases = ["", "\n", "\n\n\n", "a", "a\n", "\na", "a\n\n\nb\n", "\n\na\nb\n\n", "x\r\ny"]
    lines = _lines(pa.array(cases, pa.large_string()))
    got: list[list[str]] = [[] for _ in cases]
    for text, doc in zip(lines.text.to_pylist(), lines.doc.tolist(), strict=True):
        got[doc].append(text)
    assert got == [re.split("\n+", case) for case in cases]


def test_character_classes_are_pythons_predicates_for_every_code_point():
    import sys
    import unicodedata

    from assay.transforms.quality import chars

    points = np.random.default_rng(5).permutation(sys.maxunicode + 1).astype(np.uint32)
    bits = np.concatenate([chars.classes(part) for part in np.array_split(points, 7)])
    assert (chars.classes(points) == bits).all()  # met again: the same bits
    for code, got in zip(points.tolist(), bits.tolist(), strict=True):
        char, kind = chr(code), unicodedata.category(chr(code))
        assert bool(got & chars.SPACE) == char.isspace()
        assert bool(got & chars.PUNCT) == (not char.isspace() and (kind[0] in "PS"
                                                                   or kind == "Cc"))
        assert bool(got & chars.ALPHA) == (char.isalpha() and not got & chars.PUNCT)
        assert bool(got & chars.DIGIT) == (kind == "Nd" and not got & (chars.SPACE
                                                                      | chars.PUNCT))
        assert bool(got & chars.INFIX) == (char in chars._INFIX)
