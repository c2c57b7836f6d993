"""Multicolumn map expectations: rows are skipped per ``ignore_row_if`` instead of per null."""

from __future__ import annotations

from typing import Any

from assay.validation.expectations.frames import (
    all_rows,
    head_records,
    missing_rows,
    positional,
)
from assay.validation.expectations.map import MapExpectation
from assay.validation.expectations.params import MulticolumnParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers, DuplicatesOf, Request
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT


@register
class CompoundColumnsUnique(MapExpectation):
    """Rows whose value tuple occurs more than once (nulls equal to nulls, as pandas groups)."""

    type = "expect_compound_columns_to_be_unique"
    params = MulticolumnParams

    @property
    def columns(self) -> tuple[str, ...]:
        return self.kw.column_list

    @property
    def requests(self) -> tuple[Request, ...]:
        return (DuplicatesOf(self.columns),)

    def considered(self, part: Any) -> Any:
        mode = self.kw.ignore_row_if
        if mode == "never":
            return all_rows(part[self.columns[0]])
        return ~missing_rows(part, list(self.columns), every=mode == "all_values_are_missing")

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return positional(answers.get(DuplicatesOf(self.columns)), part[self.columns[0]])

    def sample(self, part: Any, rows: Any) -> list[Any]:
        return head_records(part[list(self.columns)], rows, PARTIAL_UNEXPECTED_COUNT)
