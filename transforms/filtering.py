"""The ``filter`` step: keep or drop rows by a structured condition (see conditions.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.conditions import Condition
from assay.transforms.frame import Frame
from assay.transforms.params import Action, fate_of, require_columns


@register
class Filter(PartitionStep):
    """``keep: COND`` removes rows where COND is not True (a null comparison is not True);
    ``drop: COND`` removes rows where it is. Give exactly one of the two."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "op": "filter", "name": "country_allowed", "action": "quarantine",
        "keep": {"column": "country", "op": "in", "value": ["US", "DE", "FR"]}}]})

    op: Literal["filter"] = "filter"
    keep: Condition | None = Field(None, description=(
        "Keep the rows where this condition holds; the rest are removed."),
        examples=[{"column": "country", "op": "in", "value": ["US", "DE"]}])
    drop: Condition | None = Field(None, description=(
        "Remove the rows where this condition holds."),
        examples=[{"column": "user", "op": "matches", "value": "^test_"}])
    action: Action = Field("drop", description=(
        "Removed rows are counted as `drop`ped by the step, or sent to the quarantine "
        "with a reason."), examples=["quarantine"])

    @model_validator(mode="after")
    def _exactly_one(self) -> Filter:
        if (self.keep is None) == (self.drop is None):
            raise ValueError("give exactly one of 'keep' or 'drop'")
        return self

    @property
    def condition(self) -> Condition:
        return self.keep if self.keep is not None else self.drop

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, sorted(self.condition.columns()), self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        self.output_columns(list(frame.columns))
        holds = self.condition.evaluate(frame)
        removed = ~holds if self.keep is not None else holds
        verb = "failed keep condition" if self.keep is not None else "matched drop condition"
        return StepResult(frame, removed, verb, fate_of(self.action))
