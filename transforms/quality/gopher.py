"""Gopher's quality rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A1.1), with the defaults and the readings of
datatrove 0.10's ``GopherQualityFilter``, the test oracle. Vectorized over the partition:
words from ``tokens``, marks and lines from one pass over the code points and RE2."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow.compute as pc
from pydantic import Field, model_validator

from assay.transforms.base import register
from assay.transforms.quality.batches import TextBatch
from assay.transforms.quality.chars import code_points, marker
from assay.transforms.quality.lines import BREAK_CODES, INLINE_SPACE, LINE_BREAK, numbers
from assay.transforms.quality.step import (
    FRACTION,
    QualityStep,
    Rule,
    number_text,
    ratio,
    score_field,
)
from assay.transforms.quality.tokens import Tokens

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
def _ordered(low: float | None, high: float | None, names: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{names}: the minimum {number_text(low)} is above the maximum "
                         f"{number_text(high)}")


@register
class GopherQuality(QualityStep):
    """Gopher's quality rules: a document needs 50-100,000 words of mean length 3-10
    characters, at most 0.1 '#' and ellipses per word, at most 90 % of lines starting with
    a bullet and 30 % ending with an ellipsis, 80 % of words with a letter, and two of the
    eight English stop words. Words are tokens as spaCy's English tokenizer (datatrove's)
    makes them."""

    op: Literal["gopher_quality"] = "gopher_quality"
    min_doc_words: int | None = score_field(50, (
        "Fewest words (tokens that are not only punctuation): Gopher's 50 (datatrove "
        "`min_doc_words`)."), ge=0)
    max_doc_words: int | None = score_field(100_000, (
        "Most words: Gopher's 100,000 (datatrove `max_doc_words`)."), ge=0)
    min_avg_word_length: float | None = score_field(3, (
        "Shortest mean word length, in characters: Gopher's 3 (datatrove "
        "`min_avg_word_length`)."), ge=0)
    max_avg_word_length: float | None = score_field(10, (
        "Longest mean word length: Gopher's 10 (datatrove `max_avg_word_length`)."), ge=0)
    max_symbol_word_ratio: float | None = score_field(0.1, (
        "Most '#' per word, and most ellipses ('...' or '…') per word, each compared on "
        "its own: Gopher's 0.1 (datatrove `max_symbol_word_ratio`)."), ge=0)
    max_bullet_lines_ratio: float | None = score_field(0.9, (
        "Most lines starting with a bullet ('•' or '-'): Gopher's 90 % (datatrove "
        "`max_bullet_lines_ratio`)."), **FRACTION)
    max_ellipsis_lines_ratio: float | None = score_field(0.3, (
        "Most lines ending with an ellipsis: Gopher's 30 % (datatrove "
        "`max_ellipsis_lines_ratio`)."), **FRACTION)
    min_alpha_words_ratio: float | None = score_field(0.8, (
        "Fewest tokens holding a letter, per token: Gopher's 80 % (datatrove's "
        "`max_non_alpha_words_ratio`, a minimum despite its name)."), **FRACTION)
    min_stop_words: int | None = score_field(2, (
        "Fewest distinct stop words present: Gopher's 2 (datatrove `min_stop_words`)."),
        ge=0)
    stop_words: list[str] = Field(default_factory=lambda: list(STOP_WORDS), min_length=1,
                                  description=(
        "The stop words (case-sensitive, as in datatrove): Gopher's eight English ones."),
        examples=[STOP_WORDS])

    @model_validator(mode="after")
    def _bounds(self) -> GopherQuality:
        _ordered(self.min_doc_words, self.max_doc_words, "min_doc_words/max_doc_words")
        _ordered(self.min_avg_word_length, self.max_avg_word_length,
                 "min_avg_word_length/max_avg_word_length")
        return self

    def score_names(self) -> list[str]:
        return ["word_count", "mean_word_length", "hash_ratio", "ellipsis_ratio",
                "bullet_lines_ratio", "ellipsis_lines_ratio", "alpha_words_ratio",
                "stop_words"]

    def rules(self) -> list[Rule]:
        return [
            Rule("word_count", "<", self.min_doc_words),
            Rule("word_count", ">", self.max_doc_words),
            Rule("mean_word_length", "<", self.min_avg_word_length),
            Rule("mean_word_length", ">", self.max_avg_word_length),
            Rule("hash_ratio", ">", self.max_symbol_word_ratio),
            Rule("ellipsis_ratio", ">", self.max_symbol_word_ratio),
            Rule("bullet_lines_ratio", ">", self.max_bullet_lines_ratio),
            Rule("ellipsis_lines_ratio", ">", self.max_ellipsis_lines_ratio),
            Rule("alpha_words_ratio", "<", self.min_alpha_words_ratio),
            Rule("stop_words", "<", self.min_stop_words),
        ]

    def score(self, batch: TextBatch) -> dict[str, np.ndarray]:
        texts = batch.texts
        points, starts = code_points(texts)
        tokens = batch.tokens((points, starts))
        n_tokens = tokens.count()
        words = tokens.count(tokens.word)
        marks = _Marks(points, starts)
        n_lines = marks.lines()
        bullets = numbers(pc.count_substring_regex(texts, _BULLET_LINE))
        ends = numbers(pc.count_substring_regex(texts, _ELLIPSIS_LINE))
        return {
            "word_count": words,
            "mean_word_length": ratio(tokens.total(tokens.length * tokens.word), words),
            "hash_ratio": ratio(marks.count(ord("#")), n_tokens),
            "ellipsis_ratio": ratio(marks.ellipses() + marks.count(ord("…")), n_tokens),
            "bullet_lines_ratio": ratio(bullets, n_lines),
            "ellipsis_lines_ratio": ratio(ends, n_lines),
            "alpha_words_ratio": ratio(tokens.count(tokens.alpha), n_tokens),
            "stop_words": self._stop_words(tokens),
        }

    def _stop_words(self, tokens: Tokens) -> np.ndarray:
        """How many distinct stop words each document holds as tokens."""
        which = tokens.which(self.stop_words)
        hit = which >= 0
        pairs = np.unique(tokens.doc[hit].astype(np.int64) * len(self.stop_words) + which[hit])
        return np.bincount(pairs // len(self.stop_words), minlength=tokens.n_docs)


# A line (as str.splitlines cuts them) that starts with a bullet, or ends with an ellipsis
_BULLET_LINE = rf"(?:^|{LINE_BREAK})(?:{INLINE_SPACE})*[•-]"
_ELLIPSIS_LINE = rf"(?:\.\.\.|…)(?:{INLINE_SPACE})*(?:$|{LINE_BREAK})"


class _Marks:
    """The few characters the Gopher rules count ('#', '…', '.', line breaks), found in one
    pass over a batch's code points."""

    def __init__(self, points: np.ndarray, starts: np.ndarray) -> None:
        self.at = np.flatnonzero(marker((*BREAK_CODES, ord("#"), ord("…"), ord(".")))[points])
        self.code = points[self.at]
        self.doc = np.searchsorted(starts, self.at, side="right") - 1
        self.starts = starts
        self.points = points

    def count(self, code: int, mask: np.ndarray | None = None) -> np.ndarray:
        hit = self.code == code if mask is None else mask
        return np.bincount(self.doc[hit], minlength=len(self.starts) - 1)

    def ellipses(self) -> np.ndarray:
        """``text.count("...")``: a run of k dots holds k // 3."""
        dot = np.flatnonzero(self.code == ord("."))
        at, doc = self.at[dot], self.doc[dot]
        new = np.ones(len(at), dtype=bool)
        new[1:] = (at[1:] != at[:-1] + 1) | (doc[1:] != doc[:-1])
        runs = np.flatnonzero(new)
        length = np.diff(np.r_[runs, len(at)])
        return np.bincount(doc[runs], weights=length // 3, minlength=len(self.starts) - 1)

    def lines(self) -> np.ndarray:
        """``len(text.splitlines())``: one more than the line breaks ("\\r\\n" is one), less
        a break that ends the text; an empty text has none."""
        breaks = np.isin(self.code, BREAK_CODES)
        after_return = np.r_[False, (self.code[:-1] == ord("\r"))
                             & (self.at[1:] == self.at[:-1] + 1) & (self.doc[1:] == self.doc[:-1])]
        breaks &= ~((self.code == ord("\n")) & after_return)
        size = np.diff(self.starts)
        last = self.points[np.maximum(self.starts[1:] - 1, 0)] if len(self.points) else size
        ends = (size > 0) & np.isin(last, BREAK_CODES)
        return np.where(size > 0, self.count(0, breaks) + 1 - ends, 0)
