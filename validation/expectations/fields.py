"""Field types of expectation kwargs, shared so that every expectation checks a kind of
value the same way when its suite loads.

pydantic's strict types cover strings and booleans (no "yes" for true, no 1 for "1"); the
rest carry a small validator where GE's meaning is particular: a number is never a bool, a
bound may be an ISO date, a regex must compile. A validator's ValueError says what was
expected, not where: the error text names the key (see ``params.explain``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, Strict

Scalar = str | int | float | bool | None


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return value


def _integer(value: Any) -> int:
    """An int, or a float with an integral value (JSON writers emit 3.0 for 3)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _fraction(value: int | float) -> int | float:
    if not 0 <= value <= 1:
        raise ValueError(f"expected a fraction between 0 and 1, got {value!r}")
    return value


_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def _comparable(value: Any) -> float | dt.datetime | dt.date:
    """A number, or a string parsed as GE's pydantic model parses it (its ``Comparable``
    union, in order): a number's text is a float, ``YYYY-MM-DD`` a date (which a timestamp
    never compares with), anything else ISO 8601 a datetime."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            if _DATE_ONLY.fullmatch(value):
                return dt.date.fromisoformat(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected a number or an ISO 8601 date/time, got {value!r}"
            ) from None
    return float(_number(value))


def scalars(value: Any) -> tuple[Any, ...]:
    """A list of scalars (strings, numbers, booleans, nulls) as a tuple."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"expected a list of values, got {type(value).__name__}")
    for item in value:
        if item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"expected scalar values, got {type(item).__name__}")
    return tuple(value)


def non_empty(value: tuple[Any, ...]) -> tuple[Any, ...]:
    """For ``AfterValidator``: GE refuses some empty lists (regex_list, a value_set)."""
    if not value:
        raise ValueError("expected a non-empty list")
    return value


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _two_or_more(value: Any) -> Any:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError("expected a list of at least two column names")
    return value


def _one_char(value: str) -> str:
    if len(value) != 1:
        raise ValueError(f"expected a single character, got {value!r}")
    return value


def _public_name(value: str) -> str:
    """Names with a leading underscore are refused, so a suite cannot reach private
    attributes of numpy or pandas."""
    if not value or value.startswith("_"):
        raise ValueError(f"expected a type name such as 'int64' or 'str', got {value!r}")
    return value


Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
Char = Annotated[str, Strict(), AfterValidator(_one_char)]
Number = Annotated[int | float, PlainValidator(_number, json_schema_input_type=int | float)]
Integer = Annotated[int, PlainValidator(_integer, json_schema_input_type=int)]
Fraction = Annotated[Number, AfterValidator(_fraction)]
Mostly = Annotated[
    Fraction,
    AfterValidator(float),
    Field(description="the share of evaluated rows that must pass (GE's mostly)"),
]
Comparable = Annotated[
    float | dt.datetime | dt.date,
    PlainValidator(_comparable, json_schema_input_type=float | str),
]
ValueSet = Annotated[
    tuple[Scalar, ...], PlainValidator(scalars, json_schema_input_type=list[Scalar])
]
Regex = Annotated[str, Strict(), AfterValidator(_compiles)]
ColumnName = Annotated[str, Strict(), Field(min_length=1)]
ColumnNames = tuple[ColumnName, ...]
ColumnList = Annotated[ColumnNames, BeforeValidator(_two_or_more)]
TypeName = Annotated[str, Strict(), AfterValidator(_public_name)]
# GE kwargs recognised but not evaluated natively: only their 'off' value (null) is accepted
Unsupported = Annotated[None, Field(description="not evaluated natively: only null")]
# which rows a multicolumn expectation skips (GE's ignore_row_if)
RowMode = Literal["all_values_are_missing", "any_value_is_missing", "never"]
