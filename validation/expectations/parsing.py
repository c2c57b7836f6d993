"""Parseability expectations: is each (non-null) value a date, a date in a format, JSON.

GE calls a Python parser per value; nothing in pandas or cuDF reproduces dateutil's,
``strptime``'s or ``json``'s acceptance exactly. So the parser runs once per DISTINCT
value of the partition (``frames.distinct_failures``) and the verdicts map back to rows
with ``isin``: no per-row Python, and repeated values (the usual case) cost nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict

from assay.validation.expectations.base import ExpectationError
from assay.validation.expectations.column_map import ColumnMapExpectation
from assay.validation.expectations.frames import distinct_failures
from assay.validation.expectations.params import ColumnMapParams
from assay.validation.expectations.registry import register
from assay.validation.expectations.requests import Answers


def _strings_only(expectation: str) -> ExpectationError:
    return ExpectationError(
        f"Values passed to {expectation} must be of type string.\nIf you want to validate a "
        "column of dates or timestamps, please call the expectation before converting from "
        "string format."
    )


class _ParsedByPython(ColumnMapExpectation):
    def parses(self, value: Any) -> bool:
        raise NotImplementedError

    def unexpected(self, part: Any, answers: Answers) -> Any:
        return distinct_failures(part[self.column], self.parses)


@register
class DateutilParseable(_ParsedByPython):
    """``dateutil.parser.parse`` accepts the value; non-strings raise, as in GE."""

    type = "expect_column_values_to_be_dateutil_parseable"

    def parses(self, value: Any) -> bool:
        from dateutil.parser import parse

        if type(value) is not str:
            raise _strings_only(self.type)
        try:
            parse(value)
        except (ValueError, OverflowError):
            return False
        return True


def _round_trips(value: str) -> str:
    """GE's check: a format that round-trips the current time through strftime/strptime."""
    try:
        now = dt.datetime.now(tz=dt.UTC)
        dt.datetime.strptime(dt.datetime.strftime(now, value), value)
    except ValueError as exc:
        raise ValueError(f"Unable to use provided strftime_format. {exc}") from None
    return value


StrftimeFormat = Annotated[str, Strict(), AfterValidator(_round_trips)]


class StrftimeParams(ColumnMapParams):
    strftime_format: StrftimeFormat = Field(description="a strptime format, e.g. %Y-%m-%d")


@register
class MatchStrftimeFormat(_ParsedByPython):
    """``datetime.strptime(value, strftime_format)`` succeeds; non-strings raise, as in GE."""

    type = "expect_column_values_to_match_strftime_format"
    params = StrftimeParams

    def parses(self, value: Any) -> bool:
        try:
            dt.datetime.strptime(value, self.kw.strftime_format)
        except TypeError:
            raise _strings_only(self.type) from None
        except ValueError:
            return False
        return True


@register
class JsonParseable(_ParsedByPython):
    """``json.loads`` accepts the value; anything it refuses (non-strings too) is unexpected."""

    type = "expect_column_values_to_be_json_parseable"

    def parses(self, value: Any) -> bool:
        try:
            json.loads(value)
        except (ValueError, TypeError, RecursionError):  # not JSON, not a string, too deep
            return False
        return True

