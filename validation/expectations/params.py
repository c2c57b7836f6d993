"""Checks for expectation kwargs: each returns the clean value or raises ValueError(reason).

The reason becomes the SuiteError text, so it says what was expected, not where (the caller
adds the expectation index, its type and the key).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any], Any]
_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One accepted kwarg: its check and its default (``REQUIRED`` when it must be given)."""

    check: Check
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def _type_name(value: Any) -> str:
    return type(value).__name__


def column_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty column name, got {value!r}")
    return value


def column_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError("expected a list of at least two column names")
    return tuple(column_name(v) for v in value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_type_name(value)}")
    return value


def number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_type_name(value)}")
    return value


def optional(check: Check) -> Check:
    def checked(value: Any) -> Any:
        return None if value is None else check(value)

    return checked


def integer(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def mostly(value: Any) -> float:
    value = number(value)
    if not 0 <= value <= 1:
        raise ValueError(f"expected a fraction between 0 and 1, got {value!r}")
    return float(value)


def comparable(value: Any) -> float | dt.datetime | dt.date:
    """A bound of a value comparison: a number, or an ISO 8601 date/time string as GE parses."""
    if isinstance(value, str):
        for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                continue
        raise ValueError(f"expected a number or an ISO 8601 date/time, got {value!r}")
    return float(number(value))


def value_set(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"expected a list of values, got {_type_name(value)}")
    for item in value:
        if item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"expected scalar values, got {_type_name(item)}")
    return tuple(value)


def regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression string, got {_type_name(value)}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def choice(*options: str) -> Check:
    def checked(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return checked


def absent(value: Any) -> None:
    """A GE kwarg we recognise but do not evaluate: only its 'off' value is accepted."""
    if value is not None:
        raise ValueError("is not supported by the native evaluator")
    return None


def anything(value: Any) -> Any:
    return value


def ordered_bounds(low: Any, high: Any) -> None:
    if low is not None and high is not None:
        try:
            reversed_ = low > high
        except TypeError:
            raise ValueError("min_value and max_value are of different types") from None
        if reversed_:
            raise ValueError(f"min_value ({low!r}) must not exceed max_value ({high!r})")


# kwargs every expectation accepts; GE uses them for reporting or they are ours to ignore
COMMON: dict[str, Param] = {
    "result_format": Param(anything, None),
    "catch_exceptions": Param(anything, None),
    "batch_id": Param(anything, None),
}
# kwargs GE accepts on column and multicolumn expectations, not evaluated natively
CONDITIONS: dict[str, Param] = {
    "row_condition": Param(absent, None),
    "condition_parser": Param(anything, None),
}
