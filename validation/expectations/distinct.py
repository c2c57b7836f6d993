"""Expectations over a column's distinct non-null values and their counts.

Method: every partition reduces the column to its value counts (distinct non-null value ->
count, the library's own ``value_counts``); partials merge by adding counts per value. All
of these metrics are exact functions of the merged counts: distinct count and share, sets,
the mode, and order statistics (median, quantiles) by walking the sorted distinct values'
cumulative counts. Memory: O(distinct non-null values) per partial and on the client, so
at most the column's non-null values (plus an 8-byte count each) for an all-distinct
column, and tiny for low-cardinality ones. One pass, no shuffle, no sampling.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from assay.transforms.frame import to_pandas
from assay.validation.expectations import params as p
from assay.validation.expectations.aggregate import _BOUNDS, _MetricBetween
from assay.validation.expectations.base import (
    ConfigError,
    Expectation,
    ExpectationError,
    Table,
    require_columns,
)
from assay.validation.expectations.shared import shared
from assay.validation.expectations.statistics import numeric_kind
from assay.validation.results import jsonable

Duplicates = dict[tuple[str, ...], Any]
Counts = pd.Series  # host pandas: index = distinct non-null values, values = counts
MAX_DISTINCT_VALUES = 20  # GE's cap on the partial lists of distinct-value expectations


def value_counts(values: Any) -> Counts:
    """The column's non-null value counts on the host (small: one row per distinct value)."""
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

    params: ClassVar[dict[str, p.Param]] = {"column": p.Param(p.column_name), **p.CONDITIONS}

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw["column"],)

    def check_dtype(self, values: Any) -> None:
        """Raise ExpectationError for dtypes this expectation does not evaluate natively."""

    def partial(self, part: Any, duplicates: Duplicates) -> Counts:
        require_columns(part, self.columns)
        values = part[self.kw["column"]]
        self.check_dtype(values)
        return shared(("value_counts", self.kw["column"]), lambda: value_counts(values))

    def merge(self, a: Counts | None, b: Counts | None) -> Counts | None:
        return merge_counts(a, b)


def _not_datetime(values: Any) -> None:
    kind = str(values.dtype).lower()
    if kind.startswith(("datetime", "timedelta", "period")):
        raise ExpectationError(f"{values.dtype} columns are not evaluated natively")


class _CountsBetween(_CountsExpectation, _MetricBetween):
    params: ClassVar[dict[str, p.Param]] = {
        **_CountsExpectation.params,
        "min_value": p.Param(p.optional(p.number), None),
        "max_value": p.Param(p.optional(p.number), None),
        **_BOUNDS,
    }


class ColumnUniqueValueCountBetween(_CountsBetween):
    type = "expect_column_unique_value_count_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        **_CountsBetween.params,
        "min_value": p.Param(p.optional(p.integer), None),
        "max_value": p.Param(p.optional(p.integer), None),
    }

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        return self.outcome(0 if partial is None else len(partial))


class ColumnProportionOfUniqueValuesBetween(_CountsBetween):
    """Distinct non-null values over non-null values; 0 (an int) when there are none."""

    type = "expect_column_proportion_of_unique_values_to_be_between"

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        nonnull = 0 if partial is None else int(partial.sum())
        return self.outcome(len(partial) / nonnull if nonnull else 0)


class ColumnMostCommonValueInSet(_CountsExpectation):
    """GE's ``column.mode()``: every value of the top count, sorted; ties_okay allows any."""

    type = "expect_column_most_common_value_to_be_in_set"
    params: ClassVar[dict[str, p.Param]] = {
        **_CountsExpectation.params,
        "value_set": p.Param(p.value_set),
        "ties_okay": p.Param(p.optional(p.flag), None),
    }

    def check_dtype(self, values: Any) -> None:
        _not_datetime(values)

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        modes: list[Any] = []
        if partial is not None and len(partial):
            modes = sorted(partial[partial == partial.max()].index.tolist())
        hits = len(set(self.kw["value_set"]).intersection(modes))
        success = hits > 0 if self.kw["ties_okay"] else len(modes) == 1 and hits == 1
        return {"success": success, "result": {"observed_value": jsonable(modes)}}


def _sorted_or_not(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return values


class _DistinctSet(_CountsExpectation):
    """GE 1.24 compares Python sets of distinct values (so 1 == 1.0 == True); observed null."""

    params: ClassVar[dict[str, p.Param]] = {
        **_CountsExpectation.params,
        "value_set": p.Param(p.value_set),
    }

    def check_dtype(self, values: Any) -> None:
        _not_datetime(values)  # GE coerces the value set to datetimes first: not ported

    def unexpected(self, partial: Counts | None) -> dict[str, Any]:
        extra = distinct_set(partial) - set(self.kw["value_set"])
        listed = _sorted_or_not(list(extra))[:MAX_DISTINCT_VALUES]
        return {"unexpected_count": len(extra), "partial_unexpected_list": jsonable(listed)}

    def missing(self, partial: Counts | None) -> dict[str, Any]:
        # GE lists the set difference in set order (unsorted), as here
        absent = set(self.kw["value_set"]) - distinct_set(partial)
        return {"missing_count": len(absent), "partial_missing_list": jsonable(list(absent))[:20]}


class ColumnDistinctValuesInSet(_DistinctSet):
    type = "expect_column_distinct_values_to_be_in_set"

    def check(self) -> None:
        if not self.kw["value_set"]:
            raise ConfigError("value_set must be a non-empty list")

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        extra = self.unexpected(partial)
        result = {"observed_value": None, **extra}
        return {"success": extra["unexpected_count"] == 0, "result": result}


class ColumnDistinctValuesContainSet(_DistinctSet):
    type = "expect_column_distinct_values_to_contain_set"

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        missing = self.missing(partial)
        result = {"observed_value": None, **missing}
        return {"success": missing["missing_count"] == 0, "result": result}


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


class OrderStatistics:
    """The sorted distinct values and their cumulative counts: value at any rank, exactly."""

    def __init__(self, counts: Counts) -> None:
        counts = counts.sort_index()
        dtype = counts.index.dtype
        self.values = counts.index.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype))
        self.ends = np.cumsum(counts.to_numpy(dtype="int64"))
        self.n = int(self.ends[-1]) if len(self.ends) else 0

    def at(self, rank: int) -> Any:
        """The value at 0-based ``rank`` (negative from the end, as numpy indexes)."""
        rank = rank % self.n
        return self.values[int(np.searchsorted(self.ends, rank, side="right"))]

    def median(self) -> float | None:
        """``np.median``: the middle value, or the float mean of the two middle ones."""
        if self.n == 0:
            return None
        low, high = self.at((self.n - 1) // 2), self.at(self.n // 2)
        return float((np.float64(low) + np.float64(high)) / 2)

    def quantile(self, q: float, method: str) -> Any:
        """``np.quantile(values, q, method=method)``, ported for one q (numpy 2.x formulas)."""
        position = np.float64(q) * (self.n - 1)
        if method in ("lower", "higher", "nearest"):
            pick = {"lower": np.floor, "higher": np.ceil, "nearest": np.around}[method]
            return self.at(int(pick(position)))
        if method == "midpoint":
            position = np.float64(0.5) * (np.floor(position) + np.ceil(position))
        previous = int(np.floor(position))
        if position >= self.n - 1:
            previous = nxt = -1
        else:
            nxt = previous + 1
        gamma = position - np.float64(previous)
        if method == "midpoint":
            gamma = np.float64(0.0 if position % 1 == 0 else 0.5)
        a, b = self.at(previous), self.at(nxt)
        with np.errstate(invalid="ignore"):  # inf - inf is NaN, as in numpy
            diff = b - a
            return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


class ColumnMedianBetween(_CountsBetween):
    """Exact median from the merged value counts (see the module docstring)."""

    type = "expect_column_median_to_be_between"

    def check_dtype(self, values: Any) -> None:
        numeric_kind(values, "median")

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        median = None if partial is None else OrderStatistics(partial).median()
        return self.outcome(median)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile_ranges(value: Any) -> dict[str, list[Any]]:
    """GE's QuantileRange: quantiles in [0, 1], one ordered [low, high] pair (None open) each."""
    if not isinstance(value, dict) or set(value) != {"quantiles", "value_ranges"}:
        raise ValueError("expected an object with 'quantiles' and 'value_ranges'")
    quantiles, ranges = value["quantiles"], value["value_ranges"]
    if not isinstance(quantiles, list) or not isinstance(ranges, list):
        raise ValueError("'quantiles' and 'value_ranges' must be lists")
    if len(quantiles) != len(ranges):
        raise ValueError("quantiles and value_ranges must have the same number of elements")
    for q in quantiles:
        if not 0 <= p.number(q) <= 1:
            raise ValueError(f"quantiles must be between 0 and 1, got {q!r}")
    for pair in ranges:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError("each value range must be a [low, high] pair")
        low, high = (None if v is None else p.number(v) for v in pair)
        p.ordered_bounds(low, high)
    return {"quantiles": list(quantiles), "value_ranges": [list(r) for r in ranges]}


def interpolation(value: Any) -> str:
    """GE: false means 'nearest'; otherwise one of pandas' interpolation names."""
    if value is False:
        return "nearest"
    return p.choice(*_INTERPOLATIONS)(value)


def _in_range(value: Any, low: Any, high: Any) -> bool:
    """GE's ``_quantile_is_in_range``: a null never passes; 1e-4 relative slack at a bound."""
    if value is None:
        return False
    low = -np.inf if low is None else low
    high = np.inf if high is None else high
    close = any(bool(np.isclose(np.float64(value), np.float64(b), rtol=1e-4)) for b in (low, high))
    return close or bool(low <= value <= high)


class ColumnQuantileValuesBetween(_CountsExpectation):
    """Exact quantiles from the merged value counts, interpolated as GE's pandas engine.

    GE calls ``Series.quantile(q, interpolation=...)`` (default 'nearest') on the non-null
    values: lower/higher/nearest keep the column's type, linear/midpoint give floats.
    """

    type = "expect_column_quantile_values_to_be_between"
    params: ClassVar[dict[str, p.Param]] = {
        **_CountsExpectation.params,
        "quantile_ranges": p.Param(quantile_ranges),
        "allow_relative_error": p.Param(interpolation, "nearest"),
    }

    def check_dtype(self, values: Any) -> None:
        kind = numeric_kind(values, "quantile")
        if kind == "bool" and self.kw["allow_relative_error"] in ("linear", "midpoint"):
            raise ExpectationError("numpy boolean subtract is not supported")

    def observed(self, partial: Counts | None) -> list[Any]:
        quantiles = self.kw["quantile_ranges"]["quantiles"]
        stats = None if partial is None else OrderStatistics(partial)
        if stats is None or stats.n == 0:
            return [None] * len(quantiles)
        method = self.kw["allow_relative_error"]
        values = [stats.quantile(q, method) for q in quantiles]
        return [None if v != v else v.item() for v in values]  # NaN (inf - inf) is null

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        ranges = self.kw["quantile_ranges"]
        values = self.observed(partial)
        pairs = zip(values, ranges["value_ranges"], strict=True)
        details = [_in_range(v, low, high) for v, (low, high) in pairs]
        observed = {"quantiles": ranges["quantiles"], "values": values}
        return {
            "success": all(details),
            "result": {"observed_value": observed, "details": {"success_details": details}},
        }


EXPECTATIONS = (
    ColumnMedianBetween,
    ColumnQuantileValuesBetween,
    ColumnUniqueValueCountBetween,
    ColumnProportionOfUniqueValuesBetween,
    ColumnMostCommonValueInSet,
    ColumnDistinctValuesInSet,
    ColumnDistinctValuesContainSet,
    ColumnDistinctValuesEqualSet,
)
