"""Column map expectations: one column, nulls ignored (except by not_null), ``mostly`` allowed."""

from __future__ import annotations

import numbers
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import pandas as pd
from pydantic import Field, model_validator

from assay.transforms.frame import is_string_like
from assay.validation.expectations.base import ExpectationError
from assay.validation.expectations.byte_scans import lengths, search
from assay.validation.expectations.fields import Comparable, Integer, Regex, ValueSet
from assay.validation.expectations.frames import all_rows, between, head_values, positional
from assay.validation.expectations.map import MapExpectation
from assay.validation.expectations.params import ColumnMapParams, StrictBounds
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers, DuplicatesOf, Request
from assay.validation.expectations.string_codes import isin
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT

B = TypeVar("B")


class ColumnMapExpectation(MapExpectation):
    params: ClassVar[type[ColumnMapParams]] = ColumnMapParams

    @property
    def column(self) -> str:
        return self.kw.column

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def considered(self, part: Any) -> Any:
        return part[self.column].notna()

    def sample(self, part: Any, rows: Any) -> list[Any]:
        return head_values(part[self.column], rows, PARTIAL_UNEXPECTED_COUNT)


@register
class NotNull(ColumnMapExpectation):
    type = "expect_column_values_to_not_be_null"
    report_missing = False

    def considered(self, part: Any) -> Any:
        return all_rows(part[self.column])

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return part[self.column].isna()


def set_for_column(values: Any, value_set: tuple[Any, ...], parse_dates: bool) -> list[Any]:
    """The members of ``value_set`` that can equal a value of ``values``, as pandas' ``isin``
    compares them: numbers for a numeric column, strings for a string one (cuDF refuses a
    list of mixed types; pandas simply never matches the others). For datetime columns,
    with ``parse_dates`` GE's ``parse_value_set``: strings parsed by dateutil (a naive
    result then matches nothing in a tz-aware column; an unparseable one is an error);
    without, GE's raw ``isin``, where no string or number equals a timestamp."""
    dtype = values.dtype
    if is_string_like(values):
        return [v for v in value_set if isinstance(v, str)]
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return [v for v in value_set if isinstance(v, numbers.Number)]
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        return list(value_set)
    if not parse_dates:
        return []
    from dateutil.parser import ParserError, parse

    try:
        members = [parse(v) if isinstance(v, str) else v for v in value_set]
    except (ParserError, OverflowError) as exc:
        raise ExpectationError(f"value_set: {exc}") from None
    # only timestamps of the column's kind (zoned or naive) can equal one of its values;
    # pandas compares the others and never matches, cuDF refuses a mixed list
    zoned = getattr(dtype, "tz", None) is not None
    stamps = [pd.Timestamp(m) for m in members if isinstance(m, datetime | pd.Timestamp)]
    return [stamp for stamp in stamps if (stamp.tz is not None) == zoned]


class ValueSetParams(ColumnMapParams):
    value_set: ValueSet = Field(description="the values compared with")


@register
class InSet(ColumnMapExpectation):
    """GE 1.24 compares a timestamp column with the raw value set (only not_in_set parses
    dates), so on a timestamp column every value is unexpected."""

    type = "expect_column_values_to_be_in_set"
    params = ValueSetParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        values = part[self.column]
        return ~isin(values, self.column, set_for_column(values, self.kw.value_set, False))


class _BoundedParams(ColumnMapParams, StrictBounds[B], Generic[B]):
    """GE refuses both bounds None (and, at run time, min above max: ``Bounds``)."""

    @model_validator(mode="after")
    def _one_bound(self) -> _BoundedParams[B]:
        if self.min_value is None and self.max_value is None:
            raise ValueError("min_value and max_value cannot both be None")
        return self


class ValuesBetweenParams(_BoundedParams[Comparable]):
    """Bounds are numbers or ISO 8601 dates/times (compared with datetime columns)."""


class LengthsBetweenParams(_BoundedParams[Integer]):
    """Bounds of ``len(str(value))``."""


class _Bounded(ColumnMapExpectation):
    def inside(self, values: Any) -> Any:
        kw = self.kw
        return between(values, kw.min_value, kw.max_value, kw.strict_min, kw.strict_max)


def _compared_as_a_column(dtype: Any) -> bool:
    """Whether GE compares the whole column with the bounds (numpy int64 and float64,
    zoned or nanosecond timestamps); it compares any other column value by value."""
    return dtype in (int, float) or isinstance(dtype, pd.DatetimeTZDtype) or \
        pd.api.types.is_datetime64_ns_dtype(dtype)


@register
class ValuesBetween(_Bounded):
    """A bound GE cannot compare with the values (a date for timestamps) raises; where GE
    compares value by value, only when there is a non-null value to compare."""

    type = "expect_column_values_to_be_between"
    numeric = True
    params = ValuesBetweenParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        values = part[self.column]
        if not _compared_as_a_column(values.dtype) and not bool(values.notna().any()):
            return values.isna() & False
        return ~self.inside(values)


@register
class ValueLengthsBetween(_Bounded):
    type = "expect_column_value_lengths_to_be_between"
    params = LengthsBetweenParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return ~self.inside(lengths(part[self.column]))


class RegexParams(ColumnMapParams):
    regex: Regex = Field(description="a Python regular expression, searched (not anchored)")


@register
class MatchRegex(ColumnMapExpectation):
    type = "expect_column_values_to_match_regex"
    params = RegexParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        # GE searches (re.search semantics), it does not anchor the pattern
        return ~search(part[self.column], self.kw.regex)


@register
class Unique(ColumnMapExpectation):
    """Every occurrence of a value seen more than once (over all partitions) is unexpected."""

    type = "expect_column_values_to_be_unique"

    @property
    def requests(self) -> tuple[Request, ...]:
        return (DuplicatesOf(self.columns),)

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return positional(answers.get(DuplicatesOf(self.columns)), part[self.column])
