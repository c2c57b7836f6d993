"""What the four quality filters share: a text column, scores computed for a whole
partition, rules that compare one score with one threshold each, and the reasons.

Scoring is split from deciding, as in NeMo Curator and dolma: a step computes every score
of its family, removes the documents that fail a rule (``fate="dropped"``: an intended
filter), and with ``score_prefix`` keeps every score as a column, so thresholds can be
re-tuned on the output without recomputing. A removed document's reason lists each rule it
failed with the value and the threshold, e.g. ``gopher_quality: mean_word_length 12.4 > 10``
(datatrove stops at the first; the decision is the same).

A null text has no score: the row is removed with the reason ``<step>: <column> is null``
and the step's fate (dropped). A step has one fate per partition, so to quarantine null
texts instead put a ``drop_null`` step with ``action: quarantine`` before it.

Scores are computed on the host (Arrow strings and numpy) on both backends: on cuDF the
text column is copied to the host and the scores come back (the ``text_quality`` host
fallback). A GPU session must check that fallback's cost against nvtext's tokenizers.
"""

from __future__ import annotations

import operator
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP, PartitionStep, StepResult
from assay.transforms.frame import Frame
from assay.transforms.params import ColumnName, add_columns, require_columns, string_column
from assay.transforms.quality.batches import TextBatch, prepare

REASON, TEXT = "__reason__", "__text__"
_COMPARE = {"<": operator.lt, ">": operator.gt}
FRACTION = {"ge": 0, "le": 1}  # the limits of a threshold that is a fraction


class Rule(NamedTuple):
    """A document fails when ``score op threshold`` (a NaN score never fails)."""

    score: str
    op: Literal["<", ">"]
    threshold: float | None  # None: the rule is off
    spare_zero: bool = False  # a score of exactly 0 passes


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def score_field(default: Any, description: str, **limits: Any) -> Any:
    """A threshold key: ``null`` turns its rule off."""
    return Field(default, description=description + " `null` turns the rule off.",
                 examples=[default, None], **limits)


class QualityStep(PartitionStep):
    """The keys and the mechanics of every quality filter; subclasses give the scores and
    the rules."""

    heap_temporaries: ClassVar[bool] = True

    column: ColumnName = Field(description="The text column (strings) to score.",
                               examples=["text"])
    score_prefix: str | None = Field(None, min_length=1, description=(
        "Keep every score of this rule family as a float column named `<prefix><score>` "
        "(NaN for a null text), so thresholds can be re-tuned without recomputing; null: "
        "keep none."), examples=["gq_"])

    def score_names(self) -> list[str]:  # pragma: no cover - abstract
        """Every score of the family, in column order."""
        raise NotImplementedError

    def rules(self) -> list[Rule]:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, batch: TextBatch) -> dict[str, Any]:  # pragma: no cover
        """Every score (numbers, one per text) of a batch's texts, and for a family that
        edits the text (C4), the new texts under ``TEXT`` (an Arrow array)."""
        raise NotImplementedError

    def score_columns(self) -> list[str]:
        return [f"{self.score_prefix}{name}" for name in self.score_names()] if self.score_prefix \
            else []

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        clash = sorted(set(self.score_columns()) & {*columns})
        if clash:
            raise ValueError(f"{self.label}: score_prefix {self.score_prefix!r} names "
                             f"existing column(s) {clash}")
        return add_columns(columns, self.score_columns())

    def apply(self, frame: Frame) -> StepResult:
        self.output_columns(list(frame.columns))
        values = string_column(frame, self.column, self.label)
        host = fr.via_host(values, "text_quality", self._evaluate)
        new = {f"{self.score_prefix}{name}": host[name] for name in self.score_names()} \
            if self.score_prefix else {}
        if TEXT in host.columns:
            new[self.column] = host[TEXT]
        reason = host[REASON]
        return StepResult(frame.assign(**new) if new else frame, reason.notna(),
                          reason.fillna(""))

    def _evaluate(self, values: pd.Series) -> pd.DataFrame:
        """Scores, reasons (null: kept) and any new text of ``values``, on the host."""
        ready = prepare(pa.array(values.array, type=pa.large_string()))
        null = ready.null
        parts = [self.score(batch) for batch in ready.batches]
        scores: dict[str, Any] = {name: np.concatenate([p[name] for p in parts]).astype(
            np.float64) for name in self.score_names()}
        for values_of_score in scores.values():
            values_of_score[null] = np.nan
        out = pd.DataFrame(scores, index=values.index)
        reasons = self._reasons(scores, null)
        out[REASON] = pd.Series(pd.array(reasons, dtype="str"), index=values.index)
        if TEXT in parts[0]:  # kept documents only: a removed one leaves as it came
            new = pa.concat_arrays([p[TEXT] for p in parts])
            out[TEXT] = pd.Series(pd.array(pc.if_else(reasons.is_null(), new, ready.original),
                                           dtype="str"), index=values.index)
        return out

    def _reasons(self, scores: dict[str, np.ndarray], null: np.ndarray) -> pa.Array:
        """Each row's failed rules joined by REASON_SEP (null where none failed)."""
        out = pa.nulls(len(null), pa.large_string())
        for rule in self.rules():
            if rule.threshold is None:
                continue
            value = scores[rule.score]
            with np.errstate(invalid="ignore"):
                fails = _COMPARE[rule.op](value, rule.threshold) & ~null
            if rule.spare_zero:
                fails &= value != 0
            if not fails.any():
                continue
            shown = pc.cast(pc.round(pa.array(value), 3), pa.large_string())
            text = pc.binary_join_element_wise(
                pa.scalar(f"{self.label}: {rule.score} ", pa.large_string()), shown,
                pa.scalar(f" {rule.op} {number_text(rule.threshold)}", pa.large_string()),
                pa.scalar("", pa.large_string()))
            text = pc.if_else(pa.array(fails), text, None)
            joined = pc.binary_join_element_wise(out, text, pa.scalar(REASON_SEP,
                                                                      pa.large_string()))
            out = pc.coalesce(joined, out, text)
        if null.any():
            out = pc.if_else(pa.array(null), f"{self.label}: {self.column} is null", out)
        return out


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (no score, no failure)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)
