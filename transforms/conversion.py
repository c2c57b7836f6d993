"""Steps that change a column's type: ``cast`` and ``parse_timestamp``. Values that do not
convert are quarantined (or nulled, or dropped) instead of failing the run."""

from __future__ import annotations

import zoneinfo
from typing import Literal

from pydantic import Field, field_validator

from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.casting import cast_column
from assay.transforms.frame import Frame
from assay.transforms.masks import as_mask, removal_reason
from assay.transforms.params import (
    ColumnName,
    ColumnType,
    QuarantineNullOrDrop,
    QuarantineOrNull,
    add_columns,
    require_columns,
)


@register
class Cast(PartitionStep):
    """Convert columns to spec types. A non-null value that does not convert is
    quarantined (``on_error: quarantine``) or becomes null (``on_error: null``)."""

    op: Literal["cast"] = "cast"
    columns: dict[ColumnName, ColumnType] = Field(min_length=1, description=(
        "`{column: type}`, types as in `schema.columns[].type`."),
        examples=[{"amount": "float64", "age": "int32"}])
    on_error: QuarantineOrNull = Field("quarantine", description=(
        "A value that does not convert quarantines its row (`cast: amount is not "
        "float64`), or becomes `null`."), examples=[None])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, self.columns, self.label)
        converted, failures = {}, []
        for column, type_name in self.columns.items():
            result = cast_column(frame[column], type_name)
            converted[column] = result.values
            failures.append((result.failed, f"{column} is not {type_name}"))
        out = frame.assign(**converted)
        if self.on_error == "null":
            return StepResult(out)
        failed = as_mask(failures[0][0])
        for mask, _ in failures[1:]:
            failed = failed | as_mask(mask)
        return StepResult(out, failed, removal_reason(failed, failures), "quarantined")


@register
class ParseTimestamp(PartitionStep):
    """Parse strings into UTC timestamps. ``format`` is a strptime format or ISO8601;
    naive values are read in ``timezone``. Unparseable values are quarantined, nulled or
    dropped (``on_error``)."""

    op: Literal["parse_timestamp"] = "parse_timestamp"
    column: ColumnName = Field(description="The column of strings to parse.",
                               examples=["ts_raw"])
    format: str = Field("ISO8601", min_length=1, description=(
        "`ISO8601` or a strptime format."), examples=["%d/%m/%Y %H:%M"])
    timezone: str = Field("UTC", description=(
        "The IANA zone of values without an offset; results are UTC (microseconds). "
        "Values outside the years 1 to 9999 do not parse."), examples=["Europe/Oslo"])
    into: ColumnName | None = Field(None, description=(
        "Write the timestamps to this column (null: replace `column`)."), examples=["ts"])
    on_error: QuarantineNullOrDrop = Field("quarantine", description=(
        "A value that does not parse quarantines its row, becomes `null`, or drops the "
        "row (counted by the step)."), examples=[None])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if zone.upper() != "UTC":
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {zone!r}") from None
        return zone

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return add_columns(columns, [self.into or self.column])

    def apply(self, frame: Frame) -> StepResult:
        require_columns(frame.columns, [self.column], self.label)
        result = cast_column(
            frame[self.column], "timestamp", format=self.format, timezone=self.timezone
        )
        out = frame.assign(**{self.into or self.column: result.values})
        if self.on_error == "null":
            return StepResult(out)
        fate = "quarantined" if self.on_error == "quarantine" else "dropped"
        reason = f"{self.column} is not a timestamp ({self.format})"
        return StepResult(out, as_mask(result.failed), reason, fate)
