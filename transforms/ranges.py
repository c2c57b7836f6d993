"""Numeric (or timestamp) bounds: ``clip`` moves values into a range, ``range_filter``
removes rows outside it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.frame import Column, Frame
from assay.transforms.masks import as_mask, removal_reason
from assay.transforms.params import Action, ColumnName, fate_of, require_columns
from assay.transforms.timestamps import scalar_for

Bound = float | int | str | None  # str for timestamps


class _Bounded(PartitionStep):
    """A column with an optional lower and upper bound (at least one)."""

    column: ColumnName = Field(description="A numeric or timestamp column.",
                               examples=["amount"])
    min: Bound = Field(None, description=(
        "The lower bound (a timestamp as an ISO 8601 string); give `min`, `max` or both."),
        examples=[0])
    max: Bound = Field(None, description="The upper bound.", examples=[1000000])

    @model_validator(mode="after")
    def _some_bound(self) -> _Bounded:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None:
            try:
                inverted = self.min > self.max
            except TypeError:
                raise ValueError("'min' and 'max' must be of the same kind") from None
            if inverted:
                raise ValueError(f"min {self.min!r} is greater than max {self.max!r}")
        return self

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return columns

    def bounds(self, values: Column) -> tuple[Any, Any]:
        return scalar_for(values, self.min), scalar_for(values, self.max)


@register
class Clip(_Bounded):
    """Replace values below ``min`` by ``min`` and above ``max`` by ``max``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"op": "clip", "column": "score", "min": 0, "max": 1}]})

    op: Literal["clip"] = "clip"

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, [self.column], self.label)
        values = frame[self.column]
        low, high = self.bounds(values)
        clipped = values.clip(lower=low, upper=high).astype(values.dtype)
        return StepResult(frame.assign(**{self.column: clipped}))


@register
class RangeFilter(_Bounded):
    """Remove rows whose value is outside the range; ``inclusive`` says which ends belong
    to it, ``nulls`` whether null values stay (keep) or go (remove)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"op": "range_filter", "column": "amount", "min": 0, "max": 1000000,
         "action": "quarantine"}]})

    op: Literal["range_filter"] = "range_filter"
    inclusive: Literal["both", "neither", "left", "right"] = Field("both", description=(
        "Which bounds belong to the range."), examples=["left"])
    action: Action = Field("drop", description=(
        "Removed rows are counted as `drop`ped by the step, or sent to the quarantine "
        "with a reason."), examples=["quarantine"])
    nulls: Literal["keep", "remove"] = Field("keep", description=(
        "`keep` (the default): rows with a null value stay, since null is not out of "
        "range; `remove`: they are removed too, as `action` says."), examples=["remove"])

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, [self.column], self.label)
        values = frame[self.column]
        low, high = self.bounds(values)
        inside = as_mask(values.notna())
        if low is not None:
            closed = self.inclusive in ("both", "left")
            inside = inside & as_mask(values >= low if closed else values > low)
        if high is not None:
            closed = self.inclusive in ("both", "right")
            inside = inside & as_mask(values <= high if closed else values < high)
        missing = as_mask(values.isna())
        outside = ~inside & ~missing
        parts = [(outside, f"{self.column} out of range")]
        if self.nulls == "remove":
            parts.append((missing, f"{self.column} is null"))
        removed = outside | missing if self.nulls == "remove" else outside
        reason = removal_reason(frame, parts)
        return StepResult(frame, removed, reason, fate_of(self.action))
