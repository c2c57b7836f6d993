"""Table expectations: row count and column names, known once partition statistics merge."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any, ClassVar

from assay.validation.expectations import params as p
from assay.validation.expectations.aggregate import _MetricBetween
from assay.validation.expectations.base import Expectation, Table
from assay.validation.results import between_outcome


def _names(value: Any) -> tuple[str, ...] | None:
    """A list of column names, or None (GE accepts a null list)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"expected a list of column names, got {type(value).__name__}")
    return tuple(p.column_name(v) for v in value)


class TableRowCountEqual(Expectation):
    type = "expect_table_row_count_to_equal"
    params: ClassVar[dict[str, p.Param]] = {"value": p.Param(p.integer), **p.CONDITIONS}

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        return {"success": table.rows == self.kw["value"], "result": {"observed_value": table.rows}}


class TableColumnCountEqual(Expectation):
    type = "expect_table_column_count_to_equal"
    params: ClassVar[dict[str, p.Param]] = {"value": p.Param(p.integer)}

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        count = len(table.columns or ())
        return {"success": count == self.kw["value"], "result": {"observed_value": count}}


class TableColumnCountBetween(_MetricBetween):
    """Inclusive bounds only: GE's model has no strict_min/strict_max here."""

    type = "expect_table_column_count_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        "min_value": p.Param(p.optional(p.integer), None),
        "max_value": p.Param(p.optional(p.integer), None),
    }

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        count = len(table.columns or ())
        return between_outcome(count, self.kw["min_value"], self.kw["max_value"], False, False)


class TableColumnsMatchOrderedList(Expectation):
    type = "expect_table_columns_to_match_ordered_list"
    params: ClassVar[dict[str, p.Param]] = {"column_list": p.Param(_names)}

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        actual, expected = list(table.columns or ()), self.kw["column_list"]
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


class TableColumnsMatchSet(Expectation):
    """GE: a null column_set is the empty set; without exact_match extra columns are fine."""

    type = "expect_table_columns_to_match_set"
    params: ClassVar[dict[str, p.Param]] = {
        "column_set": p.Param(_names),
        "exact_match": p.Param(p.optional(p.flag), True),
    }

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        actual = set(table.columns or ())
        expected = set(self.kw["column_set"] or ())
        observed = sorted(actual)
        unexpected, missing = sorted(actual - expected), sorted(expected - actual)
        if not unexpected and not missing:
            return {"success": True, "result": {"observed_value": observed}}
        mismatched: dict[str, list[str]] = {}
        if unexpected:
            mismatched["unexpected"] = unexpected
        if missing:
            mismatched["missing"] = missing
        success = not self.kw["exact_match"] and not missing
        return {
            "success": success,
            "result": {"observed_value": observed, "details": {"mismatched": mismatched}},
        }

EXPECTATIONS = (
    TableRowCountEqual,
    TableColumnCountEqual,
    TableColumnCountBetween,
    TableColumnsMatchOrderedList,
    TableColumnsMatchSet,
)
