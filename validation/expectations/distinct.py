"""Expectations over a column's distinct non-null values and their counts.

Method: every partition reduces the column to its value counts (distinct non-null value ->
count, the library's own ``value_counts``); partials merge by adding counts per value. All
of these metrics are exact functions of the merged counts: distinct count and share, sets,
the mode, and order statistics (median, quantiles: see ``quantiles``). Memory: O(distinct
non-null values) per partial and on the client, so at most the column's non-null values
(plus an 8-byte count each) for an all-distinct column, and tiny for low-cardinality ones.
One pass, no shuffle, no sampling.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field

from assay.transforms.frame import to_pandas
from assay.validation.expectations.aggregate import _MetricBetween
from assay.validation.expectations.base import (
    Expectation,
    ExpectationError,
    Table,
    require_columns,
)
from assay.validation.expectations.fields import Flag, Integer, ValueSet, non_empty
from assay.validation.expectations.params import ColumnMetricBounds, ColumnParams, StrictBounds
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers
from assay.validation.expectations.shared import shared
from assay.validation.expectations.string_codes import value_counts as encoded_value_counts
from assay.validation.results import jsonable

Counts = pd.Series  # host pandas: index = distinct non-null values, values = counts
MAX_DISTINCT_VALUES = 20  # GE's cap on the partial lists of distinct-value expectations


def value_counts(values: Any, column: str) -> Counts:
    """The column's non-null value counts on the host (small: one row per distinct value);
    a string column's from its codes, which the set expectations share (``string_codes``)."""
    counts = encoded_value_counts(values, column)
    if counts is None:
        counts = values[values.notna()].value_counts(sort=False)
    return to_pandas(counts)


def merge_counts(a: Counts | None, b: Counts | None) -> Counts | None:
    if a is None or b is None:
        return b if a is None else a
    return pd.concat([a, b]).groupby(level=0, sort=False).sum()


def distinct_set(counts: Counts | None) -> set[Any]:
    """The distinct values as Python objects, as GE's ``set(column.unique())`` sees them."""
    return set() if counts is None else set(counts.index.tolist())


class _CountsExpectation(Expectation):
    """Partial: the column's value counts (see the module docstring)."""

    params: ClassVar[type[ColumnParams]] = ColumnParams
    kept_as = "value_counts"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    def check_dtype(self, values: Any) -> None:
        """Raise ExpectationError for dtypes this expectation does not evaluate natively."""

    def partial(self, part: Any, answers: Answers) -> Counts:
        require_columns(part, self.columns)
        column = self.kw.column
        values = part[column]
        self.check_dtype(values)
        return shared(("value_counts", column), lambda: value_counts(values, column))

    def merge(self, a: Counts | None, b: Counts | None) -> Counts | None:
        return merge_counts(a, b)


def _not_period(values: Any) -> None:
    kind = str(values.dtype).lower()
    if kind.startswith(("timedelta", "period")):
        raise ExpectationError(f"{values.dtype} columns are not evaluated natively")


class _CountsBetween(_CountsExpectation, _MetricBetween):
    params = ColumnMetricBounds


class CountBounds(ColumnParams, StrictBounds[Integer]):
    pass


@register
class ColumnUniqueValueCountBetween(_CountsBetween):
    type = "expect_column_unique_value_count_to_be_between"
    params = CountBounds

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        return self.outcome(0 if partial is None else len(partial))


@register
class ColumnProportionOfUniqueValuesBetween(_CountsBetween):
    """Distinct non-null values over non-null values; 0 (an int) when there are none."""

    type = "expect_column_proportion_of_unique_values_to_be_between"

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        nonnull = 0 if partial is None else int(partial.sum())
        return self.outcome(len(partial) / nonnull if nonnull else 0)


class ColumnValueSetParams(ColumnParams):
    value_set: ValueSet = Field(description="the values compared with")


class MostCommonParams(ColumnValueSetParams):
    ties_okay: Flag | None = Field(None, description="pass if any of the tied modes is in the set")


@register
class ColumnMostCommonValueInSet(_CountsExpectation):
    """GE's ``column.mode()``: every value of the top count, sorted; ties_okay allows any."""

    type = "expect_column_most_common_value_to_be_in_set"
    params = MostCommonParams

    def check_dtype(self, values: Any) -> None:
        _not_period(values)

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        modes: list[Any] = []
        if partial is not None and len(partial):
            top = partial[partial == partial.max()].sort_index()
            # GE takes ``column.mode().values``: numpy datetime64 (UTC) for timestamps,
            # which equal no value of a JSON value set
            modes = list(pd.Series(top.index).values)
        hits = len(set(self.kw.value_set).intersection(modes))
        success = hits > 0 if self.kw.ties_okay else len(modes) == 1 and hits == 1
        observed = [str(m) if isinstance(m, np.datetime64) else m for m in modes]
        return {"success": success, "result": {"observed_value": jsonable(observed)}}


def _in_stable_order(values: list[Any]) -> list[Any]:
    """Sorted, as GE lists unexpected values; where types do not compare (``1.5`` and
    ``"ab"``), grouped by type name and sorted within each. A set's own order follows the
    process's string hash seed, and the manifest must not."""
    try:
        return sorted(values)
    except TypeError:
        by_type: dict[str, list[Any]] = {}
        for value in values:
            by_type.setdefault(type(value).__name__, []).append(value)
        return [value for name in sorted(by_type) for value in _sorted_or_by_repr(by_type[name])]


def _sorted_or_by_repr(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _coerced(value_set: tuple[Any, ...], distinct: set[Any]) -> set[Any]:
    """GE's ``_coerce_value_set_to_column_type``: against timestamps, strings parsed by
    dateutil (one it cannot parse stays a string); otherwise the set as given."""
    if not distinct or not isinstance(next(iter(distinct)), dt.datetime):
        return set(value_set)
    from dateutil.parser import parse

    def coerce(value: Any) -> Any:
        try:
            return parse(value) if isinstance(value, str) else value
        except ValueError:
            return value
        except OverflowError as exc:
            raise ExpectationError(f"value_set: {exc}") from None

    return {coerce(v) for v in value_set}


class _DistinctSet(_CountsExpectation):
    """GE 1.24 compares Python sets of distinct values (so 1 == 1.0 == True); observed null."""

    params = ColumnValueSetParams

    def check_dtype(self, values: Any) -> None:
        _not_period(values)

    def unexpected(self, partial: Counts | None) -> dict[str, Any]:
        distinct = distinct_set(partial)
        extra = distinct - _coerced(self.kw.value_set, distinct)
        listed = _in_stable_order(list(extra))[:MAX_DISTINCT_VALUES]
        return {"unexpected_count": len(extra), "partial_unexpected_list": jsonable(listed)}

    def missing(self, partial: Counts | None) -> dict[str, Any]:
        # GE lists the set difference in set order, which varies between processes when
        # it holds strings: the same values here, in a stable order
        distinct = distinct_set(partial)
        absent = _in_stable_order(list(_coerced(self.kw.value_set, distinct) - distinct))
        return {"missing_count": len(absent), "partial_missing_list": jsonable(absent)[:20]}


class InSetParams(ColumnParams):
    value_set: Annotated[ValueSet, AfterValidator(non_empty)] = Field(
        description="the values allowed"
    )


@register
class ColumnDistinctValuesInSet(_DistinctSet):
    type = "expect_column_distinct_values_to_be_in_set"
    params = InSetParams

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        extra = self.unexpected(partial)
        result = {"observed_value": None, **extra}
        return {"success": extra["unexpected_count"] == 0, "result": result}


@register
class ColumnDistinctValuesContainSet(_DistinctSet):
    type = "expect_column_distinct_values_to_contain_set"

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        missing = self.missing(partial)
        result = {"observed_value": None, **missing}
        return {"success": missing["missing_count"] == 0, "result": result}


@register
class ColumnDistinctValuesEqualSet(_DistinctSet):
    type = "expect_column_distinct_values_to_equal_set"

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        extra, missing = self.unexpected(partial), self.missing(partial)
        result = {
            "observed_value": None,
            "unexpected_count": extra["unexpected_count"],
            "missing_count": missing["missing_count"],
            "partial_unexpected_list": extra["partial_unexpected_list"],
            "partial_missing_list": missing["partial_missing_list"],
        }
        success = extra["unexpected_count"] == 0 and missing["missing_count"] == 0
        return {"success": success, "result": result}
