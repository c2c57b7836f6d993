"""Table expectations: row count and column names, known once partition statistics merge."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from pydantic import Field

from assay.validation.expectations.aggregate import _MetricBetween
from assay.validation.expectations.base import Expectation, Table
from assay.validation.expectations.fields import ColumnNames, Flag, Integer
from assay.validation.expectations.params import Bounds, Conditional, Params
from assay.validation.expectations.registry import register
from assay.validation.results import between_outcome


class RowCountParams(Conditional):
    value: Integer = Field(description="the number of rows")


@register
class TableRowCountEqual(Expectation):
    type = "expect_table_row_count_to_equal"
    params = RowCountParams

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        return {"success": table.rows == self.kw.value, "result": {"observed_value": table.rows}}


class ColumnCountParams(Params):
    value: Integer = Field(description="the number of columns")


@register
class TableColumnCountEqual(Expectation):
    type = "expect_table_column_count_to_equal"
    params = ColumnCountParams

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        count = len(table.columns or ())
        return {"success": count == self.kw.value, "result": {"observed_value": count}}


class ColumnCountBounds(Bounds[Integer]):
    """Inclusive bounds only: GE's model has no strict_min/strict_max here."""


@register
class TableColumnCountBetween(_MetricBetween):
    type = "expect_table_column_count_to_be_between"
    params = ColumnCountBounds

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        count = len(table.columns or ())
        return between_outcome(count, self.kw.min_value, self.kw.max_value, False, False)


class OrderedListParams(Params):
    column_list: ColumnNames | None = Field(description="the columns in order; null: any")


@register
class TableColumnsMatchOrderedList(Expectation):
    type = "expect_table_columns_to_match_ordered_list"
    params = OrderedListParams

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        actual, expected = list(table.columns or ()), self.kw.column_list
        if expected is None or actual == list(expected):
            return {"success": True, "result": {"observed_value": actual}}
        mismatched = [
            {"Expected Column Position": i, "Expected": want, "Found": found}
            for i, (want, found) in enumerate(zip_longest(expected, actual))
            if want != found
        ]
        return {
            "success": False,
            "result": {"observed_value": actual, "details": {"mismatched": mismatched}},
        }


class ColumnSetParams(Params):
    column_set: ColumnNames | None = Field(description="the columns; null: none")
    exact_match: Flag | None = Field(True, description="other columns fail too")


@register
class TableColumnsMatchSet(Expectation):
    """GE: a null column_set is the empty set; without exact_match extra columns are fine."""

    type = "expect_table_columns_to_match_set"
    params = ColumnSetParams

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        actual = set(table.columns or ())
        expected = set(self.kw.column_set or ())
        observed = sorted(actual)
        unexpected, missing = sorted(actual - expected), sorted(expected - actual)
        if not unexpected and not missing:
            return {"success": True, "result": {"observed_value": observed}}
        mismatched: dict[str, list[str]] = {}
        if unexpected:
            mismatched["unexpected"] = unexpected
        if missing:
            mismatched["missing"] = missing
        success = not self.kw.exact_match and not missing
        return {
            "success": success,
            "result": {"observed_value": observed, "details": {"mismatched": mismatched}},
        }
