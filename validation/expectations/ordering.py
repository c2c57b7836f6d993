"""Ordering expectations: each non-null value against the previous non-null value.

GE's pandas kernel drops nulls, takes ``diff()`` and passes a row where the diff is in
order (``>= 0``, ``> 0`` when strict, against a zero timedelta for datetimes) or null (the
first value, and ``inf - inf``). Rows are in input order, so the comparison crosses
partitions: the first non-null value of a partition is compared with the last non-null
value of the partitions before it. The expectation requests that value
(``requests.PreviousValue``; the gate answers it with ``assay.validation.boundaries``); the
kernel prepends it and runs the very ``diff`` GE runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from assay.transforms.frame import is_string_like, library
from assay.validation.expectations.base import ExpectationError
from assay.validation.expectations.column_map import ColumnMapExpectation
from assay.validation.expectations.fields import Flag
from assay.validation.expectations.frames import expand
from assay.validation.expectations.params import ColumnMapParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers, PreviousValue, Request


class MonotonicParams(ColumnMapParams):
    strictly: Flag | None = Field(None, description="equal neighbours fail too")


class _Monotonic(ColumnMapExpectation):
    params = MonotonicParams
    ascending: ClassVar[bool]

    @property
    def requests(self) -> tuple[Request, ...]:
        return (PreviousValue(self.column),)

    def in_order(self, diff: Any) -> Any:
        zero = 0
        if str(diff.dtype).startswith("timedelta"):
            import pandas as pd

            zero = pd.Timedelta(0)
        strictly = bool(self.kw.strictly)
        if self.ascending:
            ordered = diff > zero if strictly else diff >= zero
        else:
            ordered = diff < zero if strictly else diff <= zero
        return ordered | diff.isna()

    def unexpected(self, part: Any, answers: Answers) -> Any:
        values = part[self.column]
        if is_string_like(values):  # GE's diff raises; cuDF's passes an all-null column
            raise ExpectationError("operation 'sub' not supported for dtype 'string' "
                                   "with dtype 'string'")
        present = values.notna()
        kept = values[present.values]
        boundary = answers.get(PreviousValue(self.column))
        before = 0 if boundary is None else len(boundary)
        if before:
            kept = library(values).concat([boundary["value"], kept], ignore_index=True)
        diff = kept.diff().iloc[before:]
        return expand(~self.in_order(diff).astype(bool), present)


@register
class Increasing(_Monotonic):
    type = "expect_column_values_to_be_increasing"
    ascending = True


@register
class Decreasing(_Monotonic):
    type = "expect_column_values_to_be_decreasing"
    ascending = False
