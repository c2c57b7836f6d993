"""Order statistics from a column's merged value counts (``distinct``): the median and
quantiles, exact, by walking the sorted distinct values' cumulative counts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from assay.validation.expectations.base import ExpectationError, Table
from assay.validation.expectations.distinct import Counts, _CountsBetween, _CountsExpectation
from assay.validation.expectations.fields import Comparable, Fraction, Number
from assay.validation.expectations.params import ColumnParams, StrictBounds, ordered
from assay.validation.expectations.registry import register
from assay.validation.expectations.statistics import numeric_kind


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
        """``np.median``: the middle value, or the float mean of the two middle ones (which
        overflows where numpy's does; one middle value never does, as in numpy)."""
        if self.n == 0:
            return None
        if self.n % 2:
            return float(self.at(self.n // 2))
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


def _timestamp_median(counts: Counts) -> Any:
    """pandas' median of timestamps: numpy's median of their integer ticks, truncated
    toward zero, in the column's unit and zone; NaT without values (GE compares it)."""
    index = counts.index
    ticks = OrderStatistics(pd.Series(counts.to_numpy(), index=index.asi8)).median()
    if ticks is None:
        return pd.NaT
    return pd.Timestamp(int(ticks), unit=index.unit, tz=index.tz)


class MedianBounds(ColumnParams, StrictBounds[Comparable]):
    """Numbers, or ISO 8601 dates/times for a timestamp column (GE's ``Comparable``)."""


@register
class ColumnMedianBetween(_CountsBetween):
    """Exact median from the merged value counts (see the module docstring); a timestamp
    column's is a timestamp, compared with ISO bounds as GE compares them."""

    type = "expect_column_median_to_be_between"
    params = MedianBounds
    numeric = True

    def check_dtype(self, values: Any) -> None:
        if not is_datetime64_any_dtype(values.dtype):
            numeric_kind(values, "median")

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        if partial is not None and is_datetime64_any_dtype(partial.index.dtype):
            return self.outcome(_timestamp_median(partial))
        median = None if partial is None else OrderStatistics(partial).median()
        return self.outcome(median)


def _pair(value: list[Any]) -> list[Any]:
    if len(value) != 2:
        raise ValueError(f"expected a [low, high] pair, got {value!r}")
    return value


Range = Annotated[list[Number | None], Strict(), AfterValidator(_pair)]


class QuantileRanges(BaseModel):
    """GE's QuantileRange: quantiles in [0, 1], one ordered [low, high] pair (null: open)
    each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantiles: Annotated[list[Fraction], Strict()] = Field(description="the quantiles")
    value_ranges: Annotated[list[Range], Strict()] = Field(description="[low, high] each")

    @model_validator(mode="after")
    def _paired(self) -> QuantileRanges:
        if len(self.quantiles) != len(self.value_ranges):
            raise ValueError("quantiles and value_ranges must have the same number of elements")
        for i, (low, high) in enumerate(self.value_ranges):
            try:
                ordered(low, high, ("low", "high"))
            except ValueError as exc:
                raise ValueError(f"value_ranges[{i}]: {exc}") from None
        return self


def _nearest_if_false(value: Any) -> Any:
    """GE reads a false value (false, 0, 0.0, "") as its default 'nearest': the exact
    method, a value of the column."""
    return "nearest" if isinstance(value, bool | int | float | str) and not value else value


Interpolation = Annotated[
    Literal["linear", "lower", "higher", "midpoint", "nearest"],
    BeforeValidator(_nearest_if_false),
]


def _in_range(value: Any, low: Any, high: Any) -> bool:
    """GE's ``_quantile_is_in_range``: a null never passes; 1e-4 relative slack at a bound."""
    if value is None:
        return False
    low = -np.inf if low is None else low
    high = np.inf if high is None else high
    close = any(bool(np.isclose(np.float64(value), np.float64(b), rtol=1e-4)) for b in (low, high))
    return close or bool(low <= value <= high)


class QuantileParams(ColumnParams):
    quantile_ranges: QuantileRanges = Field(description="the quantiles and their ranges")
    allow_relative_error: Interpolation = Field(
        "nearest", description="the interpolation between values (false or 0: nearest)"
    )


@register
class ColumnQuantileValuesBetween(_CountsExpectation):
    """Exact quantiles from the merged value counts, interpolated as GE's pandas engine.

    GE calls ``Series.quantile(q, interpolation=...)`` (default 'nearest') on the non-null
    values: lower/higher/nearest keep the column's type, linear/midpoint give floats.
    """

    type = "expect_column_quantile_values_to_be_between"
    numeric = True
    params = QuantileParams

    def check_dtype(self, values: Any) -> None:
        kind = numeric_kind(values, "quantile")
        if kind == "bool" and self.kw.allow_relative_error in ("linear", "midpoint"):
            raise ExpectationError("numpy boolean subtract is not supported")

    def observed(self, partial: Counts | None) -> list[Any]:
        quantiles = self.kw.quantile_ranges.quantiles
        stats = None if partial is None else OrderStatistics(partial)
        if stats is None or stats.n == 0:
            return [None] * len(quantiles)
        method = self.kw.allow_relative_error
        values = [stats.quantile(q, method) for q in quantiles]
        return [None if v != v else v.item() for v in values]  # NaN (inf - inf) is null

    def validate(self, partial: Counts | None, table: Table) -> dict[str, Any]:
        ranges = self.kw.quantile_ranges
        values = self.observed(partial)
        pairs = zip(values, ranges.value_ranges, strict=True)
        details = [_in_range(v, low, high) for v, (low, high) in pairs]
        observed = {"quantiles": ranges.quantiles, "values": values}
        return {
            "success": all(details),
            "result": {"observed_value": observed, "details": {"success_details": details}},
        }
