"""More column map expectations: nulls, sets, regex lists, LIKE patterns, lengths, types.

Each mirrors GE 1.24's pandas engine (``great_expectations/expectations/metrics/
column_map_metrics``): rows whose value is null are 'missing' and not evaluated, except by
``be_null``, which evaluates every row and (like ``not_be_null``) reports no missing fields.

GE 1.24 has no pandas implementation of the LIKE pattern metrics (SQL only: its pandas
engine raises), so ``match_like_pattern`` and ``not_match_like_pattern`` follow our own
documented semantics: SQL LIKE, case-sensitive, ``%`` any run of characters (newlines too),
``_`` exactly one character, ``escape`` (one character) makes the next ``%``, ``_`` or
itself literal; the pattern is anchored at both ends.

The two type expectations are column-level in GE's pandas engine: the column's dtype is
compared with the type names, and the result is ``{"observed_value": dtype.type.__name__}``.
We compare the partition's dtype (what GE would see given that partition). Only for an
``object`` column does GE check each value's Python type; that per-value check is not
vectorisable, so it is refused (an evaluation error naming the column), never guessed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field

from assay.transforms.frame import host_dtype
from assay.transforms.masks import as_mask
from assay.validation.expectations.base import Expectation, ExpectationError, Table, require_columns
from assay.validation.expectations.byte_scans import lengths, search
from assay.validation.expectations.column_map import (
    ColumnMapExpectation,
    RegexParams,
    ValueSetParams,
    set_for_column,
)
from assay.validation.expectations.fields import (
    Char,
    Number,
    Regex,
    Text,
    TypeName,
    non_empty,
)
from assay.validation.expectations.frames import all_rows, plain_dtype
from assay.validation.expectations.params import ColumnMapParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers
from assay.validation.expectations.string_codes import isin

RegexList = Annotated[tuple[Regex, ...], AfterValidator(non_empty)]


# --------------------------------------------------------------------------- value checks


@register
class BeNull(ColumnMapExpectation):
    """Every row is evaluated; the non-null ones are unexpected (GE: ``column_values.null``)."""

    type = "expect_column_values_to_be_null"
    report_missing = False

    def considered(self, part: Any) -> Any:
        return all_rows(part[self.column])

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return part[self.column].notna()


@register
class NotInSet(ColumnMapExpectation):
    type = "expect_column_values_to_not_be_in_set"
    params = ValueSetParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        values = part[self.column]
        return isin(values, self.column, set_for_column(values, self.kw.value_set, True))


@register
class NotMatchRegex(ColumnMapExpectation):
    type = "expect_column_values_to_not_match_regex"
    params = RegexParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return search(part[self.column], self.kw.regex)


class RegexListParams(ColumnMapParams):
    regex_list: RegexList = Field(description="Python regular expressions, each searched")


class MatchRegexListParams(RegexListParams):
    match_on: Literal["any", "all"] = Field("any", description="how many must match")


class _RegexList(ColumnMapExpectation):
    """One search per pattern, combined with ``|`` (any) or ``&`` (all)."""

    def matches(self, values: Any, match_on: str) -> Any:
        combined = None
        for pattern in self.kw.regex_list:
            hit = as_mask(search(values, pattern))
            if combined is None:
                combined = hit
            else:
                combined = combined | hit if match_on == "any" else combined & hit
        return combined


@register
class MatchRegexList(_RegexList):
    type = "expect_column_values_to_match_regex_list"
    params = MatchRegexListParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return ~self.matches(part[self.column], self.kw.match_on)


@register
class NotMatchRegexList(_RegexList):
    type = "expect_column_values_to_not_match_regex_list"
    params = RegexListParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return self.matches(part[self.column], "any")


def like_to_regex(pattern: str, escape: str | None = None) -> str:
    """An SQL LIKE pattern as an anchored regex: ``%`` -> ``.*``, ``_`` -> ``.``, rest literal.

    With ``escape``, the character after it is literal (a trailing escape is literal too).
    Use with ``re.DOTALL`` so ``%`` and ``_`` match newlines as SQL does.
    """
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            out.append(re.escape(next(chars, escape)))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return r"\A(?:" + "".join(out) + r")\Z"


class LikeParams(ColumnMapParams):
    like_pattern: Text = Field(description="SQL LIKE: % any run of characters, _ exactly one")
    escape: Char | None = Field(None, description="makes the next %, _ or itself literal")


class _Like(ColumnMapExpectation):
    params = LikeParams

    def like(self, values: Any) -> Any:
        regex = like_to_regex(self.kw.like_pattern, self.kw.escape)
        return search(values, regex, flags=re.DOTALL)


@register
class MatchLikePattern(_Like):
    type = "expect_column_values_to_match_like_pattern"

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return ~self.like(part[self.column])


@register
class NotMatchLikePattern(_Like):
    type = "expect_column_values_to_not_match_like_pattern"

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return self.like(part[self.column])


class LengthParams(ColumnMapParams):
    value: Number = Field(description="the length every value must have")


@register
class ValueLengthsEqual(ColumnMapExpectation):
    """GE compares ``len(str(value))`` with ``value`` (a float is allowed and never equal
    unless integral)."""

    type = "expect_column_value_lengths_to_equal"
    params = LengthParams

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return lengths(part[self.column]) != self.kw.value


# --------------------------------------------------------------------------- dtype checks

_OBJECT_NAMES = ("object", "object_", "O")


def _native_types(name: str) -> tuple[type, ...]:
    """GE's ``native_type_type_map``: Python types for a few names, case-insensitive."""
    native: dict[str, tuple[type, ...]] = {
        "none": (type(None),), "bool": (bool,), "int": (int,), "long": (int,),
        "float": (float,), "bytes": (bytes,), "complex": (complex,), "str": (str,),
        "string_types": (str,), "list": (list,), "dict": (dict,),
    }
    return native.get(name.lower(), ())


def _pandas_class(module: Any, name: str) -> type | None:
    found = getattr(module, name, None)
    return found if isinstance(found, type) else None


def of_type_candidates(name: str) -> list[Any]:
    """The scalar types GE 1.24 accepts for ``type_`` (``ExpectColumnValuesToBeOfType``)."""
    found: list[Any] = []
    try:
        found.append(np.dtype(name).type)
    except TypeError:
        candidates = (_pandas_class(pd, name), _pandas_class(_dtypes_module(), name))
        found += [c for c in candidates if c is not None]
    return found + list(_native_types(name))


def in_type_list_candidates(names: tuple[str, ...]) -> list[Any]:
    """The dtypes and types GE 1.24 accepts for ``type_list`` (``...InTypeList``)."""
    found: list[Any] = []
    for name in names:
        try:
            found += [np.dtype(name).type, np.dtype(name)]
        except TypeError:
            cls = _pandas_class(pd, name)
            if cls is not None:
                found.append(cls)
                try:
                    instance = cls()
                except TypeError:
                    instance = None
                if isinstance(instance, pd.api.extensions.ExtensionDtype):
                    found.append(instance)
            cls = _pandas_class(_dtypes_module(), name)
            if cls is not None:
                found.append(cls)
        found += list(_native_types(name))
    return found


def _dtypes_module() -> Any:
    """``pandas.core.dtypes.dtypes``, the module GE looks type names up in."""
    from pandas.core.dtypes import dtypes

    return dtypes


class _ColumnType(Expectation):
    """GE's pandas dtype check on the dtype GE's users would load: the pipeline's nullable
    ints and booleans read as numpy's (``frames.plain_dtype``), so a plain int64 column
    passes ``int64``. The partial is the dtype and whether a null was seen."""

    params: ClassVar[type[ColumnMapParams]] = ColumnMapParams

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.kw.column,)

    def per_value(self) -> bool:
        """Whether GE would check each value's type on an ``object`` column."""
        raise NotImplementedError

    def outcome(self, dtype: Any) -> dict[str, Any]:
        raise NotImplementedError

    def partial(self, part: Any, answers: Answers) -> tuple[Any, bool]:
        """The column's dtype and whether this partition holds a null."""
        require_columns(part, self.columns)
        values = part[self.kw.column]
        return host_dtype(values), bool(values.isna().any())

    def merge(self, a: tuple[Any, bool] | None, b: tuple[Any, bool] | None) -> Any:
        if a is None or b is None:
            return b if a is None else a
        return a[0], a[1] or b[1]

    def validate(self, partial: tuple[Any, bool] | None, table: Table) -> dict[str, Any]:
        """GE's check of the dtype pandas' defaults give the column (``plain_dtype``)."""
        if partial is None:
            return {"success": False, "result": {}}  # no partition saw the table
        dtype = plain_dtype(*partial)
        if dtype.type.__name__ == "object_" and self.per_value():
            raise ExpectationError(
                f'column "{self.kw.column}" has dtype object: GE checks each value\'s '
                "Python type there, which the native evaluator does not do"
            )
        try:
            return self.outcome(dtype)
        except (SyntaxError, ValueError) as exc:  # as GE: np.dtype("(int,3)"), pd.Timedelta()
            raise ExpectationError(f"{type(exc).__name__}: {exc}") from exc


class OfTypeParams(ColumnMapParams):
    type_: TypeName = Field(description="a numpy, pandas or Python type name")


@register
class OfType(_ColumnType):
    type = "expect_column_values_to_be_of_type"
    params = OfTypeParams

    def per_value(self) -> bool:
        return self.kw.type_ not in _OBJECT_NAMES

    def outcome(self, dtype: Any) -> dict[str, Any]:
        success = dtype.type in of_type_candidates(self.kw.type_)
        return {"success": success, "result": {"observed_value": dtype.type.__name__}}


class InTypeListParams(ColumnMapParams):
    type_list: tuple[TypeName, ...] | None = Field(None, description="type names; null: any")


@register
class InTypeList(_ColumnType):
    type = "expect_column_values_to_be_in_type_list"
    params = InTypeListParams

    def per_value(self) -> bool:
        return self.kw.type_list is not None

    def outcome(self, dtype: Any) -> dict[str, Any]:
        names = self.kw.type_list
        success = names is None or dtype in in_type_list_candidates(names)
        return {"success": bool(success), "result": {"observed_value": dtype.type.__name__}}

