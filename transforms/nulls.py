"""Steps about missing values: ``fill_null`` replaces them, ``drop_null`` removes rows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.frame import Frame
from assay.transforms.masks import as_mask
from assay.transforms.params import Action, ColumnList, ColumnName, fate_of, require_columns
from assay.transforms.timestamps import scalar_for


@register
class FillNull(PartitionStep):
    """Replace nulls with a constant per column. The column keeps its dtype (a value that
    does not fit is an error), so every partition has the same schema."""

    op: Literal["fill_null"] = "fill_null"
    values: dict[ColumnName, Any] = Field(min_length=1, description=(
        "`{column: value}`; a value that would change the column's type is an error."),
        examples=[{"country": "unknown", "amount": 0}])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.values, self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, self.values, self.label)
        filled = {}
        for column, value in self.values.items():
            before = frame[column]
            try:
                after = before.fillna(scalar_for(before, value))
            except (TypeError, ValueError) as exc:
                raise ValueError(self._misfit(column, value, before.dtype)) from exc
            if after.dtype != before.dtype:
                raise ValueError(self._misfit(column, value, before.dtype))
            filled[column] = after
        return StepResult(frame.assign(**filled))

    def _misfit(self, column: str, value: Any, dtype: object) -> str:
        return f"{self.label}: {value!r} does not fit column {column} ({dtype})"


@register
class DropNull(PartitionStep):
    """Remove rows with nulls in ``columns`` (all columns by default): with ``how: any``
    a row goes if any is null, with ``how: all`` only if all are."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"op": "drop_null", "name": "amount_present", "columns": ["amount"],
         "action": "quarantine"}]})

    op: Literal["drop_null"] = "drop_null"
    columns: ColumnList | None = Field(None, description=(
        "The columns to look at (null: all)."), examples=[["amount"]])
    how: Literal["any", "all"] = Field("any", description=(
        "Remove a row when `any` of the columns is null, or only when `all` are."),
        examples=["all"])
    action: Action = Field("drop", description=(
        "Removed rows are counted as `drop`ped by the step, or sent to the quarantine "
        "with a reason."), examples=["quarantine"])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns or [], self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        columns = list(self.columns or frame.columns)
        require_columns(frame.columns, columns, self.label)
        nulls = frame[columns].isna()
        removed = as_mask(nulls.any(axis=1) if self.how == "any" else nulls.all(axis=1))
        reason = f"null in {self.how} of {columns}"
        return StepResult(frame, removed, reason, fate_of(self.action))
