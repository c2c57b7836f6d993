"""Column statistics from constant-size partials: min, max, sum, mean, sample stdev, non-null
share.

GE's pandas engine drops nulls (None, NaN, NA) first, then reduces; a column with nothing
left has no min/max/stdev (observed null, failed) but a sum of 0. Numeric and boolean columns
are evaluated natively, and timestamps for min and max; other dtypes report an evaluation
error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
from pandas.api.types import is_datetime64_any_dtype

from assay.validation.expectations.aggregate import _MetricBetween
from assay.validation.expectations.base import ExpectationError, Table, require_columns
from assay.validation.expectations.exact import SumCount, exact_sum
from assay.validation.expectations.fields import Comparable
from assay.validation.expectations.params import ColumnParams, StrictBounds
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers
from assay.validation.expectations.shared import shared


def numeric_kind(values: Any, what: str) -> str:
    """'int', 'float' or 'bool' for the column's dtype; ExpectationError for anything else."""
    kind = str(values.dtype).lower()
    for prefix, name in (("bool", "bool"), ("int", "int"), ("uint", "int"), ("float", "float")):
        if kind.startswith(prefix):
            return name
    raise ExpectationError(f"Cannot perform reduction '{what}' with {values.dtype} dtype")


def scalar(value: Any) -> Any:
    """A device or numpy scalar as a Python one."""
    return value.item() if hasattr(value, "item") else value


def present_values(part: Any, column: str) -> Any:
    """The column's non-null values, computed once per partition for all statistics."""
    values = part[column]
    return shared(("present", column), lambda: values[values.notna()])


def shared_sum(values: Any, column: str, kind: str) -> SumCount:
    """``exact_sum`` of the column's non-null values, once per partition for the sum, the
    mean and the stdev (the costliest pass of the three)."""
    return shared(("exact_sum", column, kind), lambda: exact_sum(values, kind))


class _ColumnStatistic(_MetricBetween):
    reduction: ClassVar[str] = ""
    numeric = True

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    def values(self, part: Any) -> tuple[Any, str]:
        """The column's non-null values and their kind."""
        require_columns(part, self.columns)
        kind = numeric_kind(part[self.kw.column], self.reduction)
        return present_values(part, self.kw.column), kind


class ExtremeBounds(ColumnParams, StrictBounds[Comparable]):
    """Numbers, or ISO 8601 dates/times for a timestamp column (GE's ``Comparable``)."""


class _Extreme(_ColumnStatistic):
    """min or max: the partial is the partition's extreme as a Python scalar (a Timestamp
    for a timestamp column), None if empty (NaT for a timestamp column, which GE compares).
    A bound that cannot be compared with it (a date or a number for a timestamp, naive
    against zoned) raises there, as in GE."""

    params = ExtremeBounds
    pick: ClassVar[Any] = min

    def partial(self, part: Any, answers: Answers) -> Any:
        require_columns(part, self.columns)
        present = present_values(part, self.kw.column)
        if is_datetime64_any_dtype(present.dtype):  # no values: NaT, which GE compares
            return getattr(present, self.reduction)()
        if len(present) == 0:
            return None  # GE: no values, observed null
        values, kind = self.values(part)
        value = scalar(getattr(values, self.reduction)())
        return bool(value) if kind == "bool" else value

    def merge(self, a: Any, b: Any) -> Any:
        if a is None or a is pd.NaT or b is None or b is pd.NaT:
            return b if a is None or a is pd.NaT else a
        return type(self).pick(a, b)

    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        return self.outcome(partial)


@register
class ColumnMinBetween(_Extreme):
    type = "expect_column_min_to_be_between"
    reduction = "min"
    kept_as = "min"
    pick = min


@register
class ColumnMaxBetween(_Extreme):
    type = "expect_column_max_to_be_between"
    reduction = "max"
    kept_as = "max"
    pick = max


class _ExactSum(_ColumnStatistic):
    """The partial is the exact sum and count (``exact``): the same for any partitioning."""

    def empty(self) -> SumCount:
        return SumCount()

    def partial(self, part: Any, answers: Answers) -> SumCount:
        values, kind = self.values(part)
        return shared_sum(values, self.kw.column, kind)

    def merge(self, a: SumCount, b: SumCount) -> SumCount:
        return a + b


@register
class ColumnSumBetween(_ExactSum):
    """A sum of no values is 0, as GE's."""

    type = "expect_column_sum_to_be_between"
    reduction = "sum"
    kept_as = "sum"

    def validate(self, partial: SumCount, table: Table) -> dict[str, Any]:
        return self.outcome(partial.sum())


@register
class ColumnMeanBetween(_ExactSum):
    """Booleans average as 0/1, as GE's; no values: observed null."""

    type = "expect_column_mean_to_be_between"
    reduction = "mean"
    kept_as = "mean"

    def validate(self, partial: SumCount, table: Table) -> dict[str, Any]:
        return self.outcome(partial.mean())


@dataclass
class Moments:
    """Count, sum of squared deviations from the mean (Chan et al.'s parallel update) and
    the exact sum (``SumCount``'s float ``total`` and ``infinite``): each mean is the exact
    one, so no grouping of partitions overflows or rounds it differently."""

    count: int = 0
    m2: float = 0.0
    total: int = 0
    infinite: float = 0.0

    @property
    def mean(self) -> float:
        return SumCount(self.total, self.count, True, self.infinite).mean() or 0.0


@register
class ColumnStdevBetween(_ColumnStatistic):
    """Sample standard deviation (ddof=1) as pandas' ``std``; fewer than 2 values: null."""

    type = "expect_column_stdev_to_be_between"
    reduction = "std"
    kept_as = "moments"

    def empty(self) -> Moments:
        return Moments()

    def partial(self, part: Any, answers: Answers) -> Moments:
        values, _ = self.values(part)
        if len(values) == 0:
            return Moments()
        values = values.astype("float64")  # as pandas' std: ints and bools in float64
        sums = shared_sum(values, self.kw.column, "float")
        m2 = ((values - sums.mean()) ** 2).sum(skipna=False)  # inf - inf poisons it, as in pandas
        return Moments(len(values), float(scalar(m2)), sums.total, sums.infinite)

    def merge(self, a: Moments, b: Moments) -> Moments:
        if not a.count or not b.count:
            return b if not a.count else a
        count = a.count + b.count
        delta = b.mean - a.mean
        m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / count)
        return Moments(count, m2, a.total + b.total, a.infinite + b.infinite)

    def validate(self, partial: Moments, table: Table) -> dict[str, Any]:
        if partial.count < 2 or math.isnan(partial.m2):
            return self.outcome(None)
        return self.outcome(math.sqrt(partial.m2 / (partial.count - 1)))


@register
class ColumnNonNullProportionBetween(_MetricBetween):
    """Non-null rows over all rows; 0 for an empty table (GE's rule)."""

    type = "expect_column_proportion_of_non_null_values_to_be_between"
    kept_as = "non_null"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    def empty(self) -> int:
        return 0

    def partial(self, part: Any, answers: Answers) -> int:
        require_columns(part, self.columns)
        return int(part[self.kw.column].notna().sum())

    def merge(self, a: int, b: int) -> int:
        return a + b

    def validate(self, partial: int, table: Table) -> dict[str, Any]:
        return self.outcome(partial / table.rows if table.rows > 0 else 0)
