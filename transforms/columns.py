"""Steps that reshape the column set without looking at values: select, drop, rename."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.frame import Frame
from assay.transforms.params import ColumnList, ColumnName, require_columns


@register
class Select(PartitionStep):
    """Keep only ``columns``, in the order given."""

    op: Literal["select"] = "select"
    columns: ColumnList = Field(description="The columns to keep, in their new order.",
                                examples=[["event_id", "ts", "user"]])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return list(self.columns)

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, self.columns, self.label)
        return StepResult(frame[list(self.columns)])


@register
class Drop(PartitionStep):
    """Remove ``columns``."""

    op: Literal["drop"] = "drop"
    columns: ColumnList = Field(description="The columns to remove.", examples=[["text"]])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return [c for c in columns if c not in self.columns]

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, self.columns, self.label)
        return StepResult(frame.drop(columns=list(self.columns)))


@register
class Rename(PartitionStep):
    """Rename columns ``{old: new}``; the column order is kept."""

    op: Literal["rename"] = "rename"
    columns: dict[ColumnName, ColumnName] = Field(min_length=1, description=(
        "`{old: new}`: no two columns onto one name, none onto a name that stays."),
        examples=[{"usr": "user", "cc": "country"}])

    @field_validator("columns")
    @classmethod
    def _distinct_targets(cls, mapping: dict[str, str]) -> dict[str, str]:
        targets = list(mapping.values())
        clashes = sorted({t for t in targets if targets.count(t) > 1})
        if clashes:
            raise ValueError(f"several columns renamed to {clashes}")
        return mapping

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        out = [self.columns.get(c, c) for c in columns]
        clashes = sorted({c for c in out if out.count(c) > 1})
        if clashes:
            raise ValueError(f"{self.label}: renaming would duplicate column(s) {clashes}")
        return out

    def apply(self, frame: Frame) -> StepResult:
        self.output_columns(list(frame.columns))
        return StepResult(frame.rename(columns=dict(self.columns)))
