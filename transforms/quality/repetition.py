"""Gopher's repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis
& Insights from Training Gopher", table A1), with the defaults and the readings of
datatrove 0.10's ``GopherRepetitionFilter``, the test oracle.

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
from assay.transforms.quality.batches import TextBatch
from assay.transforms.quality.lines import Pieces, numbers
from assay.transforms.quality.step import FRACTION, QualityStep, Rule, ratio, score_field
from assay.transforms.quality.tokens import Tokens, mix

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
        "(datatrove `dup_line_frac`)."), **FRACTION)
    dup_para_frac: float | None = score_field(0.3, (
        "Most paragraphs (split on blank lines) that repeat an earlier one: Gopher's 0.3 "
        "(datatrove `dup_para_frac`)."), **FRACTION)
    dup_line_char_frac: float | None = score_field(0.2, (
        "Most characters in repeated lines: Gopher's 0.2 (datatrove `dup_line_char_frac`)."),
        **FRACTION)
    dup_para_char_frac: float | None = score_field(0.2, (
        "Most characters in repeated paragraphs: Gopher's 0.2 (datatrove "
        "`dup_para_char_frac`)."), **FRACTION)
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

    def score(self, batch: TextBatch) -> dict[str, np.ndarray]:
        texts = batch.texts
        length = numbers(pc.utf8_length(texts))
        out = {"characters": length}
        for name, pieces in (
                ("para", Pieces.split(pc.utf8_trim_whitespace(texts), r"\n{2,}", regex=True)),
                ("line", _lines(texts))):
            repeated = pieces.duplicates()
            out[f"dup_{name}_frac"] = ratio(pieces.count(repeated), pieces.count())
            out[f"dup_{name}_char_frac"] = ratio(
                pieces.total(pieces.lengths() * repeated), length)
        grams = _NGrams(batch.tokens())
        # a repeated n-gram starts with a repeated shorter one: each size looks only where
        # the size before it found repeats
        sizes = sorted([(n, "top") for n in self.top_n_grams]
                       + [(n, "dup") for n in self.dup_n_grams])
        among = None
        for n, name in sizes:
            measure = grams.top_chars if name == "top" else grams.duplicated_chars
            chars, among = measure(n, among)
            out[f"{name}_{n}_gram_char_frac"] = ratio(chars, length)
        return out


def _lines(texts: pa.Array) -> Pieces:
    """``re.split("\\n+", text)``'s pieces: split on each newline, then drop the empty
    pieces between two newlines (an empty first or last piece stays), ~4x cheaper than the
    regex split."""
    lines = Pieces.split(texts, "\n")
    count = lines.count()
    bounds = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=bounds[1:])
    edge = np.zeros(len(lines.doc), dtype=bool)
    edge[bounds[:-1][count > 0]] = True
    edge[bounds[1:][count > 0] - 1] = True
    return lines.subset(edge | (numbers(pc.binary_length(lines.text)) > 0))


class _NGrams:
    """Word n-grams of a batch's documents, as 64-bit keys per starting token."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.bounds = tokens.bounds()
        self.end = self.bounds[1:][tokens.doc]  # one past each token's document's last
        self.chars = np.zeros(len(tokens.doc) + 1, dtype=np.int64)
        np.cumsum(tokens.length, out=self.chars[1:])
        self.key = mix(tokens.id.astype(np.uint64) + np.uint64(1))

    def keys(self, n: int, among: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """(start positions, keys) of the n-grams that fit in their document (and start
        where ``among`` holds, when given), computed at those starts only: the larger
        sizes look where a smaller one repeated, which is a few starts."""
        start = np.arange(len(self.tokens.doc)) if among is None else np.flatnonzero(among)
        start = start[start + n <= self.end[start]]
        total = np.zeros(len(start), dtype=np.uint64)
        for k in range(n):  # the salted sum of the n-gram's token keys
            total += self.key[start + k] * _N_GRAM_SALT[k]
        salted = total ^ (self.tokens.doc[start].astype(np.uint64) * _N_GRAM_SALT[-1])
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
