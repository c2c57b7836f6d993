"""The ``derive`` step: a new (or replaced) column computed by a safe expression."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.expressions import Expression, is_column, parse_expression
from assay.transforms.frame import Frame
from assay.transforms.params import ColumnName, add_columns, require_columns


@register
class Derive(PartitionStep):
    """Set ``column`` to ``expr``, a safe expression over the row's columns (the language
    is in expressions.py's docstring and docs/spec-guide.md)."""

    op: Literal["derive"] = "derive"
    column: ColumnName = Field(description="The column to set (new or replaced).",
                               examples=["total"])
    expr: str = Field(min_length=1, description=(
        "A safe expression over the row's columns, checked when the spec loads (see the "
        "expression language in docs/spec-guide.md)."),
        examples=['where(amount > 100, "big", "small")', "round(price * qty, 2)"])
    _parsed: Expression = PrivateAttr()

    @field_validator("expr")
    @classmethod
    def _check(cls, text: str) -> str:
        parse_expression(text)  # refused here, so the error names the key: ...derive.expr
        return text

    @model_validator(mode="after")
    def _parse(self) -> Derive:
        self._parsed = parse_expression(self.expr)
        return self

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, sorted(self._parsed.columns), self.label)
        return add_columns(columns, [self.column])

    def apply(self, frame: Frame) -> StepResult:
        value = self._parsed.evaluate(frame)
        column = value if is_column(value) else fr.broadcast(value, frame)
        return StepResult(frame.assign(**{self.column: fr.conventional(column)}))
