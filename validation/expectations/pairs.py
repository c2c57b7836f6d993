"""Column pair and multicolumn map expectations: a condition per record, rows skipped per
``ignore_row_if``.

GE evaluates the condition on the rows ``ignore_row_if`` keeps (it drops the others first),
so the kernels do the same: the condition is computed on those rows only and spread back
over the partition. The rows are seen as GE's users load them (``frames.plain_view``):
a nullable int meeting a NaN compares as numbers do, where on pandas' nullable dtypes
GE's engine would raise "boolean value of NA is ambiguous".
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, model_validator

from assay.transforms.masks import as_mask
from assay.validation.expectations.fields import ColumnName, Flag, Mostly, Number, scalars
from assay.validation.expectations.frames import (
    all_rows,
    expand,
    head_records,
    head_values,
    missing_rows,
    plain_view,
)
from assay.validation.expectations.map import MapExpectation
from assay.validation.expectations.params import Conditional, MulticolumnParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT

Column = Any
Frame = Any

# ignore_row_if: which of the columns must be missing for a row to be skipped
_PAIR_MODES = {"both_values_are_missing": "all", "either_value_is_missing": "any", "neither": None}
_LIST_MODES = {"all_values_are_missing": "all", "any_value_is_missing": "any", "never": None}


class RecordExpectation(MapExpectation):
    """A condition over several columns of each record (GE's pair and multicolumn maps)."""

    modes: ClassVar[dict[str, str | None]] = _LIST_MODES

    @property
    def distinct_columns(self) -> list[str]:
        return list(dict.fromkeys(self.columns))  # a pair may name one column twice

    def considered(self, part: Frame) -> Column:
        rule = self.modes[self.kw.ignore_row_if]
        if rule is None:
            return all_rows(part[self.columns[0]])
        return ~missing_rows(part, self.distinct_columns, every=rule == "all")

    @abstractmethod
    def holds(self, rows: Frame) -> Column:
        """GE's condition (True = expected) on the kept rows."""

    def unexpected(self, part: Frame, answers: Answers) -> Column:
        considered = self.considered(part)
        rows = plain_view(part[self.distinct_columns][considered.values])
        return expand(~as_mask(self.holds(rows)), considered)

    def sample(self, part: Frame, rows: Column) -> list[Any]:
        return head_records(part[self.distinct_columns], rows, PARTIAL_UNEXPECTED_COUNT)


class PairParams(Conditional):
    column_A: ColumnName = Field(description="the first column of the pair")
    column_B: ColumnName = Field(description="the second column of the pair")
    mostly: Mostly = 1.0
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        Field("both_values_are_missing", description="rows skipped")
    )

    @model_validator(mode="after")
    def _two_columns(self) -> PairParams:
        # GE accepts one column twice and then reports each unexpected value as a pair of
        # pairs ([[a, a], [a, a]]); a config error is more useful than copying that
        if self.column_A == self.column_B:
            raise ValueError("column_A and column_B must name different columns")
        return self


class ColumnPairExpectation(RecordExpectation):
    """GE's pair maps: ``column_A``, ``column_B``; unexpected values are ``[a, b]`` pairs."""

    modes: ClassVar[dict[str, str | None]] = _PAIR_MODES
    params: ClassVar[type[PairParams]] = PairParams

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column_A, self.kw.column_B)

    def sample(self, part: Frame, rows: Column) -> list[Any]:
        a, b = (head_values(part[c], rows, PARTIAL_UNEXPECTED_COUNT) for c in self.columns)
        return list(zip(a, b, strict=True))

    def pair(self, rows: Frame) -> tuple[Column, Column]:
        return rows[self.kw.column_A], rows[self.kw.column_B]


@register
class PairEqual(ColumnPairExpectation):
    type = "expect_column_pair_values_to_be_equal"

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        return a == b


class GreaterParams(PairParams):
    or_equal: Flag | None = Field(None, description="a equal to b passes too")


@register
class PairAGreaterThanB(ColumnPairExpectation):
    type = "expect_column_pair_values_a_to_be_greater_than_b"
    params = GreaterParams

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        return a >= b if self.kw.or_equal else a > b


def _value_pairs(value: Any) -> tuple[tuple[Any, Any], ...]:
    """GE's ``value_pairs_set``: a list of two-item lists of scalars (or nulls)."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError("expected a list of [a, b] pairs")
    pairs = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"expected a pair [a, b], got {item!r}")
        pairs.append(scalars(list(item)))
    return tuple(pairs)


ValuePairs = Annotated[
    tuple[tuple[Any, Any], ...],
    PlainValidator(_value_pairs, json_schema_input_type=list[tuple[Any, Any]]),
]


def _is(values: Column, wanted: Any) -> Column:
    """Rows equal to ``wanted`` as GE's set lookup sees them (nulls read as None)."""
    if wanted is None:
        return values.isna()
    if isinstance(wanted, float) and math.isnan(wanted):
        return values.isna() & False  # NaN in the set never equals a row's None
    return values.isin([wanted]) & values.notna()


class PairSetParams(PairParams):
    value_pairs_set: ValuePairs = Field(description="the allowed [a, b] pairs")


@register
class PairInSet(ColumnPairExpectation):
    """The pair ``(a, b)`` is one of ``value_pairs_set``; one vectorised test per pair."""

    type = "expect_column_pair_values_to_be_in_set"
    params = PairSetParams

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        hit = a.isna() & False
        for x, y in self.kw.value_pairs_set:
            hit = hit | (_is(a, x) & _is(b, y))
        return hit


class MulticolumnExpectation(RecordExpectation):
    params: ClassVar[type[MulticolumnParams]] = MulticolumnParams

    @property
    def columns(self) -> tuple[str, ...]:
        return self.kw.column_list


def _null_kind(dtype: Any) -> str:
    """The null GE's pandas frame holds for a dtype (strings read as pandas' NaN ``str``,
    missing booleans as None)."""
    name = str(dtype)
    if name == "object":
        return "None"
    return "NaT" if name.startswith("datetime") else "NaN"


def _numeric(dtype: Any) -> bool:
    name = str(dtype).lower()
    return name.startswith(("int", "uint", "float"))


def _same(a: Column, b: Column, nulls_alike: bool) -> Column:
    """Equal values; two nulls are the same value when ``nulls_alike``."""
    try:
        equal = as_mask(a == b)
    except TypeError:  # values of unrelated types are never the same value
        equal = a.isna() & False
    return equal | (a.isna() & b.isna()) if nulls_alike else equal


@register
class SelectUniqueWithinRecord(MulticolumnExpectation):
    """No two of the columns hold the same value in a record: pairwise comparisons in
    place of GE's row-wise ``nunique(dropna=False, axis=1)``.

    That ``nunique`` sees each row in the frame's common dtype: all-numeric columns make
    every null the same value; otherwise the row is of objects, where NA (masked dtypes),
    NaN (floats, strings) and NaT are three different values.
    """

    type = "expect_select_column_values_to_be_unique_within_record"

    def holds(self, rows: Frame) -> Column:
        columns = list(self.columns)
        numeric = all(_numeric(rows[c].dtype) for c in columns)
        repeated = rows[columns[0]].isna() & False
        for i, left in enumerate(columns):
            for right in columns[i + 1 :]:
                a, b = rows[left], rows[right]
                alike = numeric or _null_kind(a.dtype) == _null_kind(b.dtype)
                repeated = repeated | _same(a, b, alike)
        return ~repeated


class SumParams(MulticolumnParams):
    sum_total: Number = Field(description="what each record's values must add up to")


@register
class MulticolumnSumEqual(MulticolumnExpectation):
    type = "expect_multicolumn_sum_to_equal"
    numeric = True
    params = SumParams

    def holds(self, rows: Frame) -> Column:
        return rows.sum(axis=1, skipna=False) == float(self.kw.sum_total)
