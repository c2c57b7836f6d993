"""Table and column aggregate expectations: one observed value for the whole table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from assay.validation.expectations import params as p
from assay.validation.expectations.base import (
    ConfigError,
    Expectation,
    ExpectationError,
    Table,
    require_columns,
)
from assay.validation.results import between_outcome

_BOUNDS = {"strict_min": p.Param(p.flag, False), "strict_max": p.Param(p.flag, False)}


class _MetricBetween(Expectation):
    """GE's ``_validate_metric_value_between`` around one observed metric."""

    def check(self) -> None:
        try:
            p.ordered_bounds(self.kw["min_value"], self.kw["max_value"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def outcome(self, observed: Any) -> dict[str, Any]:
        kw = self.kw
        return between_outcome(
            observed, kw["min_value"], kw["max_value"], kw["strict_min"], kw["strict_max"]
        )


class TableRowCountBetween(_MetricBetween):
    type = "expect_table_row_count_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        "min_value": p.Param(p.optional(p.integer), None),
        "max_value": p.Param(p.optional(p.integer), None),
        **_BOUNDS,
        **p.CONDITIONS,
    }

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        return self.outcome(table.rows)


@dataclass
class SumCount:
    """Exact for integers (Python ints), pairwise-per-partition for floats."""

    total: int | float = 0
    count: int = 0


class ColumnMeanBetween(_MetricBetween):
    type = "expect_column_mean_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        "column": p.Param(p.column_name),
        "min_value": p.Param(p.optional(p.number), None),
        "max_value": p.Param(p.optional(p.number), None),
        **_BOUNDS,
        **p.CONDITIONS,
    }

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw["column"],)

    def empty(self) -> SumCount:
        return SumCount()

    def partial(self, part: Any, duplicates: dict[tuple[str, ...], Any]) -> SumCount:
        require_columns(part, self.columns)
        values = part[self.kw["column"]]
        kind = str(values.dtype).lower()
        if kind.startswith("bool"):  # GE averages booleans as 0/1
            kind = "int"
        if not kind.startswith(("int", "uint", "float")):
            raise ExpectationError(f"Cannot perform reduction 'mean' with {values.dtype} dtype")
        count = int(values.count())
        if count == 0:
            return SumCount()
        total = values.sum()
        return SumCount(int(total) if kind.startswith(("int", "uint")) else float(total), count)

    def merge(self, a: SumCount, b: SumCount) -> SumCount:
        return SumCount(a.total + b.total, a.count + b.count)

    def validate(self, partial: SumCount, table: Table) -> dict[str, Any]:
        mean = partial.total / partial.count if partial.count else None
        return self.outcome(mean)


class ColumnToExist(Expectation):
    type = "expect_column_to_exist"
    params: ClassVar[dict[str, p.Param]] = {
        "column": p.Param(p.column_name),
        "column_index": p.Param(p.optional(p.integer), None),
    }

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw["column"],)

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        columns = list(table.columns or ())
        name, index = self.kw["column"], self.kw["column_index"]
        if index:  # GE tests truthiness: column_index 0 only checks membership
            success = -len(columns) <= index < len(columns) and columns[index] == name
        else:
            success = name in columns
        return {"success": bool(success), "result": {}}
