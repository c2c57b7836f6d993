"""The ``row_id`` step: a stable int64 id from the values of some columns, so the same
record gets the same id in every run and on every worker."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.frame import Frame
from assay.transforms.params import ColumnList, ColumnName, add_columns, require_columns


@register
class RowId(PartitionStep):
    """Set ``into`` to a 64-bit hash of ``columns`` (equal values give equal ids)."""

    op: Literal["row_id"] = "row_id"
    columns: ColumnList = Field(description="The columns whose values make the id.",
                                examples=[["user", "ts"]])
    into: ColumnName = Field("row_id", description="The id column (int64).",
                             examples=["event_key"])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return add_columns(columns, [self.into])

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, self.columns, self.label)
        ids = fr.as_int64(fr.stable_hash_rows(frame, list(self.columns)))
        ids = fr.to_nullable(ids, "int64")  # the engine nulls data columns of removed rows
        return StepResult(frame.assign(**{self.into: ids}))
