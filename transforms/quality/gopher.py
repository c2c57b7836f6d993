"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", appendix A1.1 and table A1), with the
defaults and the readings of datatrove 0.10's ``GopherQualityFilter`` and
``GopherRepetitionFilter``, which serve as the test oracle.

Everything is vectorized over the partition except the duplicated n-gram fractions: their
definition is a greedy left-to-right scan (a repeated n-gram skips the next n words), so the
n-grams that occur earlier in their document (found with a hash table over the whole
partition) are scanned in Python, per document; the others need no scan.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from assay.transforms.base import register
from assay.transforms.quality.chars import code_points
from assay.transforms.quality.lines import INLINE_SPACE, LINE_BREAK, Pieces, numbers
from assay.transforms.quality.step import QualityStep, Rule, number_text, ratio, score_field
from assay.transforms.quality.tokens import Tokens, mix, tokenize, tokenize_points

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
_FRACTION = {"ge": 0, "le": 1}


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
        "`max_bullet_lines_ratio`)."), **_FRACTION)
    max_ellipsis_lines_ratio: float | None = score_field(0.3, (
        "Most lines ending with an ellipsis: Gopher's 30 % (datatrove "
        "`max_ellipsis_lines_ratio`)."), **_FRACTION)
    min_alpha_words_ratio: float | None = score_field(0.8, (
        "Fewest tokens holding a letter, per token: Gopher's 80 % (datatrove's "
        "`max_non_alpha_words_ratio`, a minimum despite its name)."), **_FRACTION)
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

    def score(self, texts: pa.Array) -> dict[str, np.ndarray]:
        points, starts = code_points(texts)
        tokens = tokenize_points(points, starts)
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
        pairs = np.unique(tokens.doc[hit] * len(self.stop_words) + which[hit])
        return np.bincount(pairs // len(self.stop_words), minlength=tokens.n_docs)


# A line (as str.splitlines cuts them) that starts with a bullet, or ends with an ellipsis
_BULLET_LINE = rf"(?:^|{LINE_BREAK})(?:{INLINE_SPACE})*[•-]"
_ELLIPSIS_LINE = rf"(?:\.\.\.|…)(?:{INLINE_SPACE})*(?:$|{LINE_BREAK})"
_BREAKS = [ord(c) for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"]


class _Marks:
    """The few characters the Gopher rules count ('#', '…', '.', line breaks), found in one
    pass over a batch's code points."""

    def __init__(self, points: np.ndarray, starts: np.ndarray) -> None:
        self.at = np.flatnonzero(np.isin(points, [*_BREAKS, ord("#"), ord("…"), ord(".")]))
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
        breaks = np.isin(self.code, _BREAKS)
        after_return = np.r_[False, (self.code[:-1] == ord("\r"))
                             & (self.at[1:] == self.at[:-1] + 1) & (self.doc[1:] == self.doc[:-1])]
        breaks &= ~((self.code == ord("\n")) & after_return)
        size = np.diff(self.starts)
        last = self.points[np.maximum(self.starts[1:] - 1, 0)] if len(self.points) else size
        ends = (size > 0) & np.isin(last, _BREAKS)
        return np.where(size > 0, self.count(0, breaks) + 1 - ends, 0)


_TOP_N_GRAMS = {2: 0.2, 3: 0.18, 4: 0.16}
_DUP_N_GRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
_N_GRAM_SALT = np.random.default_rng(10).integers(1, 2**63, size=64, dtype=np.uint64)


@register
class GopherRepetition(QualityStep):
    """Gopher's repetition rules: the fraction of duplicated lines and paragraphs (and of
    the characters in them), the characters in the most frequent 2-, 3- and 4-gram, and
    the characters in duplicated 5- to 10-grams, each at most its threshold (Gopher's
    table A1). Fractions of characters are of the whole text."""

    op: Literal["gopher_repetition"] = "gopher_repetition"
    dup_line_frac: float | None = score_field(0.3, (
        "Most lines (split on runs of newlines) that repeat an earlier line: Gopher's 0.3 "
        "(datatrove `dup_line_frac`)."), **_FRACTION)
    dup_para_frac: float | None = score_field(0.3, (
        "Most paragraphs (split on blank lines) that repeat an earlier one: Gopher's 0.3 "
        "(datatrove `dup_para_frac`)."), **_FRACTION)
    dup_line_char_frac: float | None = score_field(0.2, (
        "Most characters in repeated lines: Gopher's 0.2 (datatrove `dup_line_char_frac`)."),
        **_FRACTION)
    dup_para_char_frac: float | None = score_field(0.2, (
        "Most characters in repeated paragraphs: Gopher's 0.2 (datatrove "
        "`dup_para_char_frac`)."), **_FRACTION)
    top_n_grams: dict[int, float] = Field(default_factory=lambda: dict(_TOP_N_GRAMS),
                                          description=(
        "`{n: most}`: the characters of the most frequent word n-gram (times its count) "
        "per character: Gopher's 2: 0.2, 3: 0.18, 4: 0.16 (datatrove `top_n_grams`); `{}` "
        "turns them off."), examples=[_TOP_N_GRAMS])
    dup_n_grams: dict[int, float] = Field(default_factory=lambda: dict(_DUP_N_GRAMS),
                                          description=(
        "`{n: most}`: the characters in word n-grams that repeat an earlier one, per "
        "character: Gopher's 5: 0.15 down to 10: 0.10 (datatrove `dup_n_grams`)."),
        examples=[_DUP_N_GRAMS])

    @model_validator(mode="after")
    def _n_grams(self) -> GopherRepetition:
        for key in ("top_n_grams", "dup_n_grams"):
            for n, most in getattr(self, key).items():
                if not 1 <= n <= len(_N_GRAM_SALT):
                    raise ValueError(f"{key}: n-gram size {n} is not within 1-"
                                     f"{len(_N_GRAM_SALT)}")
                if not 0 <= most <= 1:
                    raise ValueError(f"{key}: the fraction for {n}-grams, {most}, is not "
                                     "within 0-1")
        return self

    def score_names(self) -> list[str]:
        return ["characters", "dup_para_frac", "dup_para_char_frac", "dup_line_frac",
                "dup_line_char_frac",
                *(f"top_{n}_gram_char_frac" for n in sorted(self.top_n_grams)),
                *(f"dup_{n}_gram_char_frac" for n in sorted(self.dup_n_grams))]

    def rules(self) -> list[Rule]:
        return [
            Rule("characters", "<", 1),
            Rule("dup_para_frac", ">", self.dup_para_frac),
            Rule("dup_para_char_frac", ">", self.dup_para_char_frac),
            Rule("dup_line_frac", ">", self.dup_line_frac),
            Rule("dup_line_char_frac", ">", self.dup_line_char_frac),
            *(Rule(f"top_{n}_gram_char_frac", ">", most)
              for n, most in sorted(self.top_n_grams.items())),
            *(Rule(f"dup_{n}_gram_char_frac", ">", most)
              for n, most in sorted(self.dup_n_grams.items())),
        ]

    def score(self, texts: pa.Array) -> dict[str, np.ndarray]:
        length = numbers(pc.utf8_length(texts))
        out = {"characters": length}
        for name, pieces in (
                ("para", Pieces.split(pc.utf8_trim_whitespace(texts), r"\n{2,}", regex=True)),
                ("line", Pieces.split(texts, r"\n+", regex=True))):
            repeated = pieces.duplicates()
            out[f"dup_{name}_frac"] = ratio(pieces.count(repeated), pieces.count())
            out[f"dup_{name}_char_frac"] = ratio(
                pieces.total(pieces.lengths() * repeated), length)
        grams = _NGrams(tokenize(texts))
        for name, measure, sizes in (("top", grams.top_chars, self.top_n_grams),
                                     ("dup", grams.duplicated_chars, self.dup_n_grams)):
            among = None  # a repeated n-gram starts with a repeated shorter one
            for n in sorted(sizes):
                chars, repeated = measure(n, among)
                out[f"{name}_{n}_gram_char_frac"] = ratio(chars, length)
                among = repeated
        return out


class _NGrams:
    """Word n-grams of a batch's documents, as 64-bit keys per starting token."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.bounds = tokens.bounds()
        self.end = self.bounds[1:][tokens.doc]  # one past each token's document's last
        self.chars = np.zeros(len(tokens.doc) + 1, dtype=np.int64)
        np.cumsum(tokens.length, out=self.chars[1:])
        self.key = mix(tokens.id.astype(np.uint64) + np.uint64(1))
        self._sums = {0: np.zeros(len(tokens.doc), dtype=np.uint64)}

    def keys(self, n: int, among: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """(start positions, keys) of the n-grams that fit in their document (and start
        where ``among`` holds, when given)."""
        size = len(self.tokens.doc)
        have = max(self._sums)
        total = self._sums[have]
        for k in range(have, n):  # add the (k+1)-th token of every n-gram
            total = total.copy()
            if k < size:
                total[:size - k] += self.key[k:] * _N_GRAM_SALT[k]
            self._sums[k + 1] = total
        start = np.flatnonzero(np.arange(size) + n <= self.end)
        if among is not None:
            start = start[among[start]]
        salted = self._sums[n][start] ^ (self.tokens.doc[start].astype(np.uint64)
                                         * _N_GRAM_SALT[-1])
        return start, mix(salted)

    def counted(self, n: int, among: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The n-grams starting where ``among`` holds (all: None): their starts, codes
        (numbered by first appearance), how often each occurs, and where the n-grams that
        occur twice or more start: only there can an (n+1)-gram repeat."""
        start, key = self.keys(n, among)
        codes, _ = pd.factorize(key)
        count = np.bincount(codes)[codes]
        repeated = np.zeros(len(self.tokens.doc), dtype=bool)
        repeated[start[count > 1]] = True
        return start, codes, count, repeated

    def top_chars(self, n: int, among: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the characters of its most frequent n-gram (joined by spaces)
        times its count, the first such n-gram when counts tie (datatrove's
        ``Counter.most_common``), NaN without any n-gram; and ``counted``'s repeats."""
        heads = self.bounds[:-1]
        fits = heads + n <= self.bounds[1:]
        out = np.full(self.tokens.n_docs, np.nan)  # all n-grams once: the first one
        out[fits] = self.chars[heads[fits] + n] - self.chars[heads[fits]] + n - 1
        start, _, count, repeated = self.counted(n, among)
        at = np.flatnonzero(count > 1)
        if not len(at):
            return out, repeated
        start, count = start[at], count[at]
        doc = self.tokens.doc[start]
        first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
        most = np.maximum.reduceat(count, first)
        at_most = np.flatnonzero(count == np.repeat(most, np.diff(np.r_[first, len(doc)])))
        _, pick = np.unique(doc[at_most], return_index=True)
        chosen = start[at_most[pick]]
        out[doc[first]] = most * (self.chars[chosen + n] - self.chars[chosen] + n - 1)
        return out, repeated

    def duplicated_chars(self, n: int, among: np.ndarray | None
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the characters (joined without spaces) of the n-grams that repeat
        one seen before, scanning left to right and skipping the n words of each repeat
        (datatrove's ``find_all_duplicate``); and ``counted``'s repeats. Only n-grams that
        occurred earlier in their document can be repeats, so the scan visits those alone
        (``_scan``)."""
        out = np.zeros(self.tokens.n_docs)
        start, codes, _, repeated = self.counted(n, among)
        new = np.ones(len(codes), dtype=bool)
        new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
        again = np.flatnonzero(~new)
        if not len(again):
            return out, repeated
        first = start[np.flatnonzero(new)[codes[again]]]
        at = start[again]
        width = self.chars[at + n] - self.chars[at]
        doc = self.tokens.doc[at]
        cuts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1], True]).tolist()
        columns = at.tolist(), first.tolist(), codes[again].tolist(), width.tolist()
        for lo, hi in itertools.pairwise(cuts):  # the per-document Python of this module
            out[doc[lo]] = _scan(*(column[lo:hi] for column in columns), n)
        return out, repeated


def _scan(positions: list[int], firsts: list[int], codes: list[int], widths: list[int],
          n: int) -> int:
    """datatrove's greedy scan, visiting only the n-grams seen before (at ``positions``,
    with their first occurrence at ``firsts``): such an n-gram is a repeat when the scan
    visited an earlier occurrence, i.e. an earlier repeat of it, or its first occurrence
    when no skip covered it. A repeat skips the next n - 1 positions."""
    visited: set[int] = set()
    skip_from: list[int] = []
    skip_to: list[int] = []
    total, resume = 0, 0
    for position, first, code, width in zip(positions, firsts, codes, widths, strict=True):
        if position < resume:
            continue
        skipped = bisect.bisect_right(skip_from, first) - 1
        if code in visited or skipped < 0 or first >= skip_to[skipped]:
            total += width
            resume = position + n
            skip_from.append(position + 1)
            skip_to.append(resume)
        else:
            visited.add(code)
    return total
