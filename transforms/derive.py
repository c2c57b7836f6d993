"""The ``derive`` step: a new (or replaced) column computed by a safe expression."""

from __future__ import annotations

from typing import Literal

from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.expressions import Expression, is_column, parse_expression
from assay.transforms.frame import Frame
from assay.transforms.params import ColumnName, add_columns, require_columns
from pydantic import Field, PrivateAttr, field_validator, model_validator


@register
class Derive(PartitionStep):
    """Set ``column`` to ``expr`` (see expressions.py for the language)."""

    op: Literal["derive"] = "derive"
    column: ColumnName
    expr: str = Field(min_length=1)
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
