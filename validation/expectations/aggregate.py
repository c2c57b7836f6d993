"""Table and column aggregate expectations: one observed value for the whole table."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from assay.validation.expectations.base import Expectation, Table
from assay.validation.expectations.fields import ColumnName, Integer
from assay.validation.expectations.params import (
    Bounds,
    ColumnMetricBounds,
    Conditional,
    Params,
    StrictBounds,
)
from assay.validation.expectations.registry import register
from assay.validation.results import between_outcome


class _MetricBetween(Expectation):
    """GE's ``_validate_metric_value_between`` around one observed metric."""

    params: ClassVar[type[Bounds]] = ColumnMetricBounds

    def outcome(self, observed: Any) -> dict[str, Any]:
        kw = self.kw
        return between_outcome(observed, kw.min_value, kw.max_value, kw.strict_min, kw.strict_max)


class RowCountBounds(Conditional, StrictBounds[Integer]):
    pass


@register
class TableRowCountBetween(_MetricBetween):
    type = "expect_table_row_count_to_be_between"
    params = RowCountBounds

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        return self.outcome(table.rows)


class ColumnToExistParams(Params):
    column: ColumnName = Field(description="the column that must exist")
    column_index: Integer | None = Field(None, description="its position; 0 or null: any")


@register
class ColumnToExist(Expectation):
    type = "expect_column_to_exist"
    params = ColumnToExistParams

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        columns = list(table.columns or ())
        name, index = self.kw.column, self.kw.column_index
        if index:  # GE tests truthiness: column_index 0 only checks membership
            success = -len(columns) <= index < len(columns) and columns[index] == name
        else:
            success = name in columns
        return {"success": bool(success), "result": {}}
