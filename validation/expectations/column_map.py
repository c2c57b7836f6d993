"""Column map expectations: one column, nulls ignored (except by not_null), ``mostly`` allowed."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import pandas as pd
from assay.transforms.frame import as_string, is_string_like
from assay.validation.expectations import params as p
from assay.validation.expectations.base import ConfigError, ExpectationError
from assay.validation.expectations.frames import all_rows, between, head_values
from assay.validation.expectations.map import Duplicates, MapExpectation
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT

_COLUMN_MAP = {
    "column": p.Param(p.column_name),
    "mostly": p.Param(p.mostly, 1.0),
    **p.CONDITIONS,
}


class ColumnMapExpectation(MapExpectation):
    params: ClassVar[dict[str, p.Param]] = _COLUMN_MAP

    @property
    def column(self) -> str:
        return self.kw["column"]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def considered(self, part: Any) -> Any:
        return part[self.column].notna()

    def sample(self, part: Any, rows: Any) -> list[Any]:
        return head_values(part[self.column], rows, PARTIAL_UNEXPECTED_COUNT)


class NotNull(ColumnMapExpectation):
    type = "expect_column_values_to_not_be_null"
    report_missing = False

    def considered(self, part: Any) -> Any:
        return all_rows(part[self.column])

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        return part[self.column].isna()


def set_for_column(values: Any, value_set: tuple[Any, ...]) -> list[Any]:
    """The members of ``value_set`` that can equal a value of ``values``, as pandas' ``isin``
    compares them: numbers for a numeric column, strings for a string one (cuDF refuses a
    list of mixed types; pandas simply never matches the others). For datetime columns,
    GE's ``parse_value_set``: strings parsed by dateutil (a naive result then matches
    nothing in a tz-aware column); an unparseable one is an error."""
    dtype = values.dtype
    if is_string_like(values):
        return [v for v in value_set if isinstance(v, str)]
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return [v for v in value_set if isinstance(v, numbers.Number)]
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        return list(value_set)
    from dateutil.parser import ParserError, parse

    try:
        return [parse(v) if isinstance(v, str) else v for v in value_set]
    except (ParserError, OverflowError) as exc:
        raise ExpectationError(f"value_set: {exc}") from None


class InSet(ColumnMapExpectation):
    type = "expect_column_values_to_be_in_set"
    params: ClassVar[dict[str, p.Param]] = {**_COLUMN_MAP, "value_set": p.Param(p.value_set)}

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        values = part[self.column]
        return ~values.isin(set_for_column(values, self.kw["value_set"]))


_BOUNDS = {"strict_min": p.Param(p.flag, False), "strict_max": p.Param(p.flag, False)}


class _Bounded(ColumnMapExpectation):
    """Shared bound checks: GE refuses both bounds None and (at run time) min above max."""

    def check(self) -> None:
        low, high = self.kw["min_value"], self.kw["max_value"]
        if low is None and high is None:
            raise ConfigError("min_value and max_value cannot both be None")
        try:
            p.ordered_bounds(low, high)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def inside(self, values: Any) -> Any:
        kw = self.kw
        return between(values, kw["min_value"], kw["max_value"], kw["strict_min"], kw["strict_max"])


class ValuesBetween(_Bounded):
    type = "expect_column_values_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        **_COLUMN_MAP,
        "min_value": p.Param(p.optional(p.comparable), None),
        "max_value": p.Param(p.optional(p.comparable), None),
        **_BOUNDS,
    }

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        return ~self.inside(part[self.column])


class ValueLengthsBetween(_Bounded):
    type = "expect_column_value_lengths_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        **_COLUMN_MAP,
        "min_value": p.Param(p.optional(p.integer), None),
        "max_value": p.Param(p.optional(p.integer), None),
        **_BOUNDS,
    }

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        return ~self.inside(as_string(part[self.column]).str.len())


class MatchRegex(ColumnMapExpectation):
    type = "expect_column_values_to_match_regex"
    params: ClassVar[dict[str, p.Param]] = {**_COLUMN_MAP, "regex": p.Param(p.regex)}

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        # GE searches (re.search semantics), it does not anchor the pattern
        return ~as_string(part[self.column]).str.contains(self.kw["regex"], regex=True)


class Unique(ColumnMapExpectation):
    """Every occurrence of a value seen more than once (over all partitions) is unexpected."""

    type = "expect_column_values_to_be_unique"

    @property
    def duplicate_key(self) -> tuple[str, ...]:
        return self.columns

    def unexpected(self, part: Any, duplicates: Duplicates) -> Any:
        table = duplicates.get(self.columns)
        values = part[self.column]
        if table is None:
            return values.isna() & False
        return values.isin(table[self.column])
