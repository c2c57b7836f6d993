"""Column pair and multicolumn map expectations: a condition per record, rows skipped per
``ignore_row_if``.

GE evaluates the condition on the rows ``ignore_row_if`` keeps (it drops the others first),
so the kernels do the same: the condition is computed on those rows only and spread back
over the partition. Where the condition holds a null (a nullable dtype meeting a null),
GE's engine raises ("boolean value of NA is ambiguous"); so does this one.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

from assay.transforms.masks import as_mask
from assay.validation.expectations import params as p
from assay.validation.expectations.base import ConfigError, ExpectationError
from assay.validation.expectations.frames import all_rows, expand, head_records, head_values
from assay.validation.expectations.map import Duplicates, MapExpectation
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT

Column = Any
Frame = Any

_PAIR_MODES = {"both_values_are_missing": "all", "either_value_is_missing": "any", "neither": None}
_LIST_MODES = {"all_values_are_missing": "all", "any_value_is_missing": "any", "never": None}


def _mode_param(modes: dict[str, str | None], default: str) -> p.Param:
    return p.Param(p.choice(*modes), default)


_MASKED = ("Int", "UInt", "Float", "boolean")


def _masked(rows: Frame) -> bool:
    """Whether a column is a pandas masked numeric/boolean: where such a column meets a null
    the condition is null and GE's engine raises. Strings are not counted: Dask turns every
    string column into a masked one, while GE (pandas' default ``str``) compares a null as
    False, which is how a null condition is read here."""
    return any(str(dtype).startswith(_MASKED) for dtype in rows.dtypes)


class RecordExpectation(MapExpectation):
    """A condition over several columns of each record (GE's pair and multicolumn maps)."""

    modes: ClassVar[dict[str, str | None]] = _LIST_MODES

    @property
    def distinct_columns(self) -> list[str]:
        return list(dict.fromkeys(self.columns))  # a pair may name one column twice

    def considered(self, part: Frame) -> Column:
        rule = self.modes[self.kw["ignore_row_if"]]
        if rule is None:
            return all_rows(part[self.columns[0]])
        missing = part[self.distinct_columns].isna()
        return ~(missing.all(axis=1) if rule == "all" else missing.any(axis=1))

    @abstractmethod
    def holds(self, rows: Frame) -> Column:
        """GE's condition (True = expected) on the kept rows."""

    def unexpected(self, part: Frame, duplicates: Duplicates) -> Column:
        considered = self.considered(part)
        rows = part[self.distinct_columns][considered.values]
        holds = self.holds(rows)
        if _masked(rows) and bool(holds.isna().any()):
            raise ExpectationError("boolean value of NA is ambiguous")
        return expand(~as_mask(holds), considered)

    def sample(self, part: Frame, rows: Column) -> list[Any]:
        return head_records(part[self.distinct_columns], rows, PARTIAL_UNEXPECTED_COUNT)


class ColumnPairExpectation(RecordExpectation):
    """GE's pair maps: ``column_A``, ``column_B``; unexpected values are ``[a, b]`` pairs."""

    modes: ClassVar[dict[str, str | None]] = _PAIR_MODES
    params: ClassVar[dict[str, p.Param]] = {
        "column_A": p.Param(p.column_name),
        "column_B": p.Param(p.column_name),
        "mostly": p.Param(p.mostly, 1.0),
        "ignore_row_if": _mode_param(_PAIR_MODES, "both_values_are_missing"),
        **p.CONDITIONS,
    }

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw["column_A"], self.kw["column_B"])

    def check(self) -> None:
        # GE accepts one column twice and then reports each unexpected value as a pair of
        # pairs ([[a, a], [a, a]]); a config error is more useful than copying that
        if self.kw["column_A"] == self.kw["column_B"]:
            raise ConfigError("column_A and column_B must name different columns")

    def sample(self, part: Frame, rows: Column) -> list[Any]:
        a, b = (head_values(part[c], rows, PARTIAL_UNEXPECTED_COUNT) for c in self.columns)
        return list(zip(a, b, strict=True))

    def pair(self, rows: Frame) -> tuple[Column, Column]:
        return rows[self.kw["column_A"]], rows[self.kw["column_B"]]


class PairEqual(ColumnPairExpectation):
    type = "expect_column_pair_values_to_be_equal"

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        return a == b


class PairAGreaterThanB(ColumnPairExpectation):
    type = "expect_column_pair_values_a_to_be_greater_than_b"
    params: ClassVar[dict[str, p.Param]] = {
        **ColumnPairExpectation.params,
        "or_equal": p.Param(p.optional(p.flag), None),
    }

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        return a >= b if self.kw["or_equal"] else a > b


def value_pairs(value: Any) -> tuple[tuple[Any, Any], ...]:
    """GE's ``value_pairs_set``: a list of two-item lists of scalars (or nulls)."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError("expected a list of [a, b] pairs")
    pairs = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"expected a pair [a, b], got {item!r}")
        pairs.append(tuple(p.value_set(list(item))))
    return tuple(pairs)


def _is(values: Column, wanted: Any) -> Column:
    """Rows equal to ``wanted`` as GE's set lookup sees them (nulls read as None)."""
    if wanted is None:
        return values.isna()
    if isinstance(wanted, float) and math.isnan(wanted):
        return values.isna() & False  # NaN in the set never equals a row's None
    return values.isin([wanted]) & values.notna()


class PairInSet(ColumnPairExpectation):
    """The pair ``(a, b)`` is one of ``value_pairs_set``; one vectorised test per pair."""

    type = "expect_column_pair_values_to_be_in_set"
    params: ClassVar[dict[str, p.Param]] = {
        **ColumnPairExpectation.params,
        "value_pairs_set": p.Param(value_pairs),
    }

    def holds(self, rows: Frame) -> Column:
        a, b = self.pair(rows)
        hit = a.isna() & False
        for x, y in self.kw["value_pairs_set"]:
            hit = hit | (_is(a, x) & _is(b, y))
        return hit


_LIST_PARAMS: dict[str, p.Param] = {
    "column_list": p.Param(p.column_list),
    "mostly": p.Param(p.mostly, 1.0),
    "ignore_row_if": _mode_param(_LIST_MODES, "all_values_are_missing"),
    **p.CONDITIONS,
}


class MulticolumnExpectation(RecordExpectation):
    params: ClassVar[dict[str, p.Param]] = _LIST_PARAMS

    @property
    def columns(self) -> tuple[str, ...]:
        return self.kw["column_list"]


def _null_kind(dtype: Any) -> str:
    """The null GE's pandas frame holds for a dtype (strings read as pandas' NaN ``str``)."""
    name = str(dtype)
    if name.startswith(_MASKED):
        return "NA"
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


class MulticolumnSumEqual(MulticolumnExpectation):
    type = "expect_multicolumn_sum_to_equal"
    params: ClassVar[dict[str, p.Param]] = {**_LIST_PARAMS, "sum_total": p.Param(p.number)}

    def holds(self, rows: Frame) -> Column:
        return rows.sum(axis=1, skipna=False) == float(self.kw["sum_total"])
