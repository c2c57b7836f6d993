"""Multicolumn map expectations: rows are skipped per ``ignore_row_if`` instead of per null."""

from __future__ import annotations

from typing import Any, ClassVar

from assay.validation.expectations import params as p
from assay.validation.expectations.frames import all_rows, head_records, rows_in
from assay.validation.expectations.map import Duplicates, MapExpectation
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT


class CompoundColumnsUnique(MapExpectation):
    """Rows whose value tuple occurs more than once (nulls equal to nulls, as pandas groups)."""

    type = "expect_compound_columns_to_be_unique"
    params: ClassVar[dict[str, p.Param]] = {
        "column_list": p.Param(p.column_list),
        "mostly": p.Param(p.mostly, 1.0),
        # GE 1.24's default, although its docstring says "never"
        "ignore_row_if": p.Param(
            p.choice("all_values_are_missing", "any_value_is_missing", "never"),
            "all_values_are_missing",
        ),
        **p.CONDITIONS,
    }

    @property
    def columns(self) -> tuple[str, ...]:
        return self.kw["column_list"]

    @property
    def duplicate_key(self) -> tuple[str, ...]:
        return self.columns

    def considered(self, part: Any) -> Any:
        missing = part[list(self.columns)].isna()
        mode = self.kw["ignore_row_if"]
        if mode == "all_values_are_missing":
            return ~missing.all(axis=1)
        if mode == "any_value_is_missing":
            return ~missing.any(axis=1)
        return all_rows(part[self.columns[0]])

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        return rows_in(part[list(self.columns)], duplicates.get(self.columns))

    def sample(self, part: Any, rows: Any) -> list[Any]:
        return head_records(part[list(self.columns)], rows, PARTIAL_UNEXPECTED_COUNT)
