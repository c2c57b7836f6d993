"""``expect_no_near_duplicates_across_splits``: assay's own expectation (not in GE's
catalogue) that no document of one split is a near-duplicate of a document of another, so
a model is never evaluated on paraphrases of its training data.

The splits are the sink's (``sink.split``), assigned to the rows at the gate as the sink
will; pairs are found and verified as ``near_dedup`` finds them (``assay.validation.
near_splits``). A row is unexpected when it is an end of a verified cross-split pair (a
quarantine takes both ends); the result lists the pairs, each once, beside GE's map fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from assay.transforms.frame import library
from assay.transforms.near_dedup.edges import key_parts
from assay.validation.expectations.base import ExpectationError, Table
from assay.validation.expectations.fields import Fraction, Integer
from assay.validation.expectations.frames import head_values
from assay.validation.expectations.map import MapExpectation, MapPartial
from assay.validation.expectations.params import ColumnMapParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers, CrossSplitNearDuplicates, Request
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT


class CrossSplitParams(ColumnMapParams):
    threshold: Fraction = Field(0.8, description=(
        "the Jaccard similarity of two documents' n-gram sets at or above which they are "
        "near-duplicates (verified exactly, as near_dedup's threshold)"))
    unit: Literal["word", "char"] = Field("word", description="n-grams of words or characters")
    ngram: Integer = Field(5, description="tokens per n-gram (at least 1)")
    bands: Integer = Field(14, description="LSH bands, as near_dedup's (at least 1)")
    rows_per_band: Integer = Field(8, description="MinHash values per band (at least 1)")
    seed: Integer = Field(42, description="seed of the MinHash hash family (0 or more)")

    @model_validator(mode="after")
    def _in_range(self) -> CrossSplitParams:
        if self.threshold <= 0:
            raise ValueError("threshold: expected a fraction above 0, got 0")
        for name, least in (("ngram", 1), ("bands", 1), ("rows_per_band", 1), ("seed", 0)):
            if getattr(self, name) < least:
                raise ValueError(f"{name}: expected at least {least}, got {getattr(self, name)}")
        return self


@dataclass
class PairsPartial(MapPartial):
    """GE's map counts plus the first cross-split pairs, each once (at its smaller key)."""

    pair_count: int = 0
    pairs: list[dict[str, Any]] = field(default_factory=list)


def _end(key: int, split: str) -> dict[str, Any]:
    source, line = key_parts(np.int64(key))
    return {"input": int(source), "line": int(line), "split": split}


@register
class NoNearDuplicatesAcrossSplits(MapExpectation):
    type = "expect_no_near_duplicates_across_splits"
    params: ClassVar[type[CrossSplitParams]] = CrossSplitParams
    uses_split = True

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    @property
    def request(self) -> CrossSplitNearDuplicates:
        kw = self.kw
        return CrossSplitNearDuplicates(kw.column, float(kw.threshold), kw.unit, kw.ngram,
                                        kw.bands, kw.rows_per_band, kw.seed)

    @property
    def requests(self) -> tuple[Request, ...]:
        return (self.request,)

    def _ends(self, answers: Answers) -> Any:
        ends = answers.get(self.request)
        if ends is None:
            raise ExpectationError(f"{self.label}: needs the sink's split (sink.split): the "
                                   "splits it compares are the ones the sink assigns")
        return ends

    def considered(self, part: Any) -> Any:
        return part[self.kw.column].notna()

    def unexpected(self, part: Any, answers: Answers) -> Any:
        flags = np.zeros(len(part), dtype=bool)
        flags[self._ends(answers)["row"].to_numpy()] = True
        return library(part).Series(flags, index=part.index)

    def sample(self, part: Any, rows: Any) -> list[Any]:
        return head_values(part[self.kw.column], rows, PARTIAL_UNEXPECTED_COUNT)

    def empty(self) -> PairsPartial:
        return PairsPartial()

    def summarize(self, part: Any, considered: Any, rows: Any, answers: Answers
                  ) -> PairsPartial:
        counts = super().summarize(part, considered, rows, answers)
        ends = self._ends(answers)
        once = ends[ends["key"] < ends["partner"]].sort_values(["key", "partner"])
        pairs = [{"a": _end(row.key, row.split), "b": _end(row.partner, row.partner_split),
                  "jaccard": float(np.floor(row.jaccard * 1000) / 1000)}
                 for row in once.head(PARTIAL_UNEXPECTED_COUNT).itertuples()]
        return PairsPartial(**vars(counts), pair_count=len(once), pairs=pairs)

    def merge(self, a: PairsPartial, b: PairsPartial) -> PairsPartial:
        counts = super().merge(a, b)
        pairs = (a.pairs + b.pairs)[:PARTIAL_UNEXPECTED_COUNT]
        return PairsPartial(**vars(counts), pair_count=a.pair_count + b.pair_count,
                            pairs=pairs)

    def validate(self, partial: PairsPartial, table: Table) -> dict[str, Any]:
        answer = super().validate(partial, table)
        answer["result"]["pair_count"] = partial.pair_count
        answer["result"]["partial_pair_list"] = partial.pairs
        answer["result"]["observed_value"] = _observed(partial)
        return answer


def _observed(partial: PairsPartial) -> str:
    """The pairs in words, for a report's observed value (``report_rows`` cuts it short)."""
    def end(row: dict[str, Any]) -> str:
        return f"input {row['input']} line {row['line']} ({row['split']})"

    pairs = "; ".join(f"{end(p['a'])} ~ {end(p['b'])}, Jaccard {p['jaccard']}"
                      for p in partial.pairs)
    count = f"{partial.pair_count} near-duplicate pair(s) across splits"
    return f"{count}: {pairs}" if pairs else count
