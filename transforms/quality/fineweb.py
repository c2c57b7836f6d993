"""FineWeb's quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.3.4),
with the defaults of datatrove 0.10's ``FineWebQualityFilter``, the test oracle: enough
lines ending in punctuation, not too many short lines, few characters in duplicated lines,
and not a list (newlines per word)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from assay.transforms.base import register
from assay.transforms.quality.batches import TextBatch
from assay.transforms.quality.chars import sentence_terminals
from assay.transforms.quality.lines import Pieces, numbers
from assay.transforms.quality.step import FRACTION, QualityStep, Rule, ratio, score_field
from assay.transforms.quality.tokens import tokenize


@register
class FineWebQuality(QualityStep):
    """FineWeb's rules over the non-blank lines (split on "\\n") of a document: at least
    12 % end with a sentence terminal, at most 67 % are 30 characters or shorter, at most
    1 % of the characters are in lines that repeat an earlier line, and at most 0.3
    newlines per word. A document without a non-blank line fails (``lines 0 < 1``)."""

    op: Literal["fineweb_quality"] = "fineweb_quality"
    line_punct_thr: float | None = score_field(0.12, (
        "Fewest lines ending with one of `stop_chars`, per line: FineWeb's 0.12 "
        "(datatrove `line_punct_thr`)."), **FRACTION)
    line_punct_exclude_zero: bool = Field(False, description=(
        "Let a document with no line ending in punctuation pass that rule (datatrove "
        "`line_punct_exclude_zero`, off in FineWeb)."), examples=[True])
    stop_chars: list[Annotated[str, Field(min_length=1, max_length=1)]] | None = Field(
        None, min_length=1, description=(
        "The characters a line may end with; null: Unicode's sentence terminals (FineWeb's "
        "`TERMINAL_PUNCTUATION`)."), examples=[[".", "!", "?"]])
    short_line_thr: float | None = score_field(0.67, (
        "Most lines of at most `short_line_length` characters, per line: FineWeb's 0.67 "
        "(datatrove `short_line_thr`)."), **FRACTION)
    short_line_length: int = Field(30, ge=0, description=(
        "A line this long or shorter is short: FineWeb's 30 (datatrove "
        "`short_line_length`)."), examples=[30])
    char_duplicates_ratio: float | None = score_field(0.01, (
        "Most characters in lines that repeat an earlier line, per character (newlines "
        "not counted): FineWeb's 0.01 (datatrove `char_duplicates_ratio`)."), **FRACTION)
    new_line_ratio: float | None = score_field(0.3, (
        "Most newlines per word: FineWeb's 0.3 (datatrove `new_line_ratio`)."), ge=0)

    def score_names(self) -> list[str]:
        return ["lines", "line_punct_ratio", "short_line_ratio", "char_dup_ratio",
                "list_ratio"]

    def rules(self) -> list[Rule]:
        return [
            Rule("lines", "<", 1),
            Rule("line_punct_ratio", "<", self.line_punct_thr,
                 spare_zero=self.line_punct_exclude_zero),
            Rule("short_line_ratio", ">", self.short_line_thr),
            Rule("char_dup_ratio", ">", self.char_duplicates_ratio),
            Rule("list_ratio", ">", self.new_line_ratio),
        ]

    def score(self, batch: TextBatch) -> dict[str, np.ndarray]:
        texts = batch.texts
        lines = Pieces.split(texts, "\n")
        lines = lines.subset(numbers(pc.utf8_length(pc.utf8_trim_whitespace(lines.text))) > 0)
        n_lines = lines.count()
        stops = sorted(sentence_terminals() if self.stop_chars is None else self.stop_chars)
        ends = numbers(pc.is_in(pc.utf8_slice_codeunits(lines.text, -1), pa.array(stops)))
        length = lines.lengths()
        newlines = numbers(pc.count_substring(texts, "\n"))
        return {
            "lines": n_lines,
            "line_punct_ratio": ratio(lines.count(ends), n_lines),
            "short_line_ratio": ratio(lines.count(length <= self.short_line_length),
                                      n_lines),
            "char_dup_ratio": ratio(lines.total(length * lines.duplicates()),
                                    numbers(pc.utf8_length(texts)) - newlines),
            "list_ratio": self._list_ratio(batch, newlines),
        }

    def _list_ratio(self, batch: TextBatch, newlines: np.ndarray) -> np.ndarray:
        """Newlines per word. Unless the scores are kept, only where it may exceed the
        threshold (elsewhere NaN): a whitespace chunk is at least one word, so a text with
        ``new_line_ratio`` times more chunks than newlines passes without tokenizing it
        (tokens an earlier step of the chain made are used as they are)."""
        texts = batch.texts
        if self.score_prefix is None and self.new_line_ratio is None:
            return np.full(len(texts), np.nan)
        if self.score_prefix is not None or batch.known_tokens() is not None:
            return ratio(newlines, batch.tokens().count())
        chunks = numbers(pc.list_value_length(pc.ascii_split_whitespace(texts)))
        need = np.flatnonzero(newlines > self.new_line_ratio * chunks)
        out = np.full(len(texts), np.nan)
        out[need] = ratio(newlines[need], tokenize(texts.take(pa.array(need))).count())
        return out
