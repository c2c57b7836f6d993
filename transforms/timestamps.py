"""Timestamps from strings with pandas' semantics, on either backend.

pandas' general parser (``pd.to_datetime``) defines the answer. ISO 8601 in UTC, the shape
uploads mostly use, has faster parsers for its canonical form, which answer exactly where
they answer and leave the other values to the general parser: Arrow's ISO 8601 cast on the
strings pandas holds in Arrow, and on the device a parser written in the column API pandas
and cuDF share (so the tests check it on pandas). cuDF has no parser with pandas'
semantics, so whatever the device parser leaves is parsed on the host (a logged host
fallback, for those values only).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms import frame as fr
from assay.transforms.frame import Column

log = logging.getLogger("assay.backend")

# The one ISO 8601 shape uploads mostly use; anything else goes to pandas' general parser.
# (offsets below 24 hours: pandas refuses larger ones)
_ZONE = r"(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)"
CANONICAL_ISO = rf"^\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}{_ZONE}$"
# The canonical shape holding a real date and time (pandas' semantics: no Feb 30, no hour
# 24, no second 60), so Arrow's ISO 8601 cast, which fails a whole column on one value it
# refuses, parses every value it admits: days up to each month's length, Feb 29 in leap
# years only (divisible by 4 but not by 100, or by 400).
_LEAP_YEAR = r"(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
              r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))")
_TIME = r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
VALID_ISO = rf"^(?:\d{{4}}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29){_TIME}{_ZONE}$"
_UTC_MICROS = pa.timestamp("us", "UTC")
_ISO_FIELDS = (("year", 0, 4), ("month", 5, 7), ("day", 8, 10), ("hour", 11, 13),
               ("minute", 14, 16), ("second", 17, 19))


def parse_timestamps(values: Column, format: str, timezone: str) -> Column:
    """UTC timestamps (microseconds) from strings; unparseable values become null.

    Naive values are read in ``timezone``; values with an offset are converted to UTC.
    """
    if format.upper() == "ISO8601":
        format = "ISO8601"
    if format == "ISO8601" and timezone.upper() == "UTC":
        canonical = _canonical_iso_utc(values)
        if canonical is not None:
            stamps, leftover = canonical
            if not leftover.any():
                return stamps
            rest = fr.via_host(values[leftover], "parse_timestamps", _general, format, timezone)
            return fr.replace_where(stamps, leftover, rest)
    return fr.via_host(values, "parse_timestamps", _general, format, timezone)


def _general(values: pd.Series, format: str, timezone: str) -> pd.Series:
    """pandas' general parser, on the host: the answer every faster parser must give."""
    if timezone.upper() == "UTC":
        parsed = pd.to_datetime(values, format=format, errors="coerce", utc=True)
    else:
        parsed = pd.to_datetime(values, format=format, errors="coerce")
        parsed = (
            parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            if parsed.dt.tz is None
            else parsed
        ).dt.tz_convert("UTC")
    return parsed.dt.as_unit("us")


def _canonical_iso_utc(values: Column) -> tuple[Column, Column] | None:
    """Timestamps of the values of the canonical shape and a mask of the values left for
    the general parser, by the fastest parser the column's backend has; None where it has
    none (strings pandas does not hold in Arrow, a cuDF release without a shared call)."""
    arrow = fr.arrow_strings(values)
    if arrow is not None:
        return _arrow_iso_utc(arrow, values)
    if not fr.on_device(values):
        return None
    try:
        return canonical_iso_utc_shared(values)
    except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        # a cuDF release without one of the shared calls: exact answers on the host
        log.warning("cuDF backend: device ISO 8601 parser unavailable (%s)", exc)
        return None


def _arrow_iso_utc(arrow: pa.Array | pa.ChunkedArray, values: pd.Series
                   ) -> tuple[pd.Series, pd.Series] | None:
    """``_canonical_iso_utc`` by Arrow's kernels on ``arrow``, the strings of ``values``:
    one regex pass admits the valid values of the canonical shape, one cast parses them
    (both release the GIL). None where the cast still refuses one (Arrow and ``VALID_ISO``
    would disagree): the general parser then answers for the whole column."""
    valid = pc.fill_null(pc.match_substring_regex(arrow, VALID_ISO), False)
    candidates = pc.if_else(valid, arrow, pa.scalar(None, arrow.type))
    try:
        parsed = pc.cast(candidates, _UTC_MICROS)
    except pa.ArrowInvalid:
        return None
    stamps = parsed.to_pandas().set_axis(values.index).dt.tz_convert("UTC")
    leftover = pc.and_not(pc.is_valid(arrow), valid)
    return stamps, pd.Series(leftover.to_numpy(zero_copy_only=False), index=values.index)


def _number(values: Column) -> Column:
    return fr.library(values).to_numeric(values, errors="coerce")


def _days_from_civil(year: Column, month: Column, day: Column) -> Column:
    """Days since 1970-01-01 of a proleptic Gregorian date (years >= 1), in integer
    arithmetic both backends run as column kernels: March-based years, so February's
    length only matters in the last day of the year."""
    march_year = year - (month <= 2).astype("int64")
    era = march_year // 400
    year_of_era = march_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _real_date_and_time(fields: dict[str, Column]) -> Column:
    """Whether the fields name a date and time that exists (pandas' semantics: no Feb 30 or
    Feb 29 outside leap years, no hour 24, no second 60; years from 1)."""
    year, month, day = fields["year"], fields["month"], fields["day"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    # 31, 30, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 from the month; February 28 or 29
    month_days = 31 - ((month - 1) % 7) % 2
    month_days = month_days - (month == 2).astype("int64") * (2 - leap.astype("int64"))
    return ((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
            & (fields["hour"] <= 23) & (fields["minute"] <= 59) & (fields["second"] <= 59))


def canonical_iso_utc_shared(values: Column) -> tuple[Column, Column]:
    """``_canonical_iso_utc`` in the column API pandas and cuDF share, so it runs on the
    device: the fields of a value of the canonical shape are read as integers, a value whose
    fields name a real date and time becomes microseconds since the epoch by arithmetic
    (no library date parser, so none of their differences over Feb 30 or minute 61 can
    leak in), then its offset is subtracted. Every other value is left."""
    shaped = values.str.match(CANONICAL_ISO).fillna(False).astype("bool")
    candidates = values.where(shaped)
    fields = {field: _number(candidates.str.slice(start, stop)).fillna(0).astype("int64")
              for field, start, stop in _ISO_FIELDS}
    exact = (shaped & _real_date_and_time(fields)).fillna(False).astype("bool")
    zone = candidates.str.slice(19).str.replace("Z", "+0000", regex=False)
    zone = zone.str.replace(":", "", regex=False)
    minutes = (_number(zone.str.slice(1, 3)) * 60 + _number(zone.str.slice(3, 5))).fillna(0)
    sign = 1 - 2 * zone.str.startswith("-").fillna(False).astype("int64")
    seconds = (_days_from_civil(fields["year"], fields["month"], fields["day"]) * 86_400
               + fields["hour"] * 3_600 + fields["minute"] * 60 + fields["second"]
               - minutes.astype("int64") * sign * 60)
    stamps = (seconds * 1_000_000).astype("datetime64[us]").where(exact).dt.tz_localize("UTC")
    # unnamed, as the Arrow path's answers: a removal mask derived from them stays unnamed
    return stamps.rename(None), (values.notna() & ~exact).rename(None)


def scalar_for(values: Column, value: Any) -> Any:
    """A spec value (YAML scalar) in a form comparable with ``values``: timestamps from
    strings or numbers are read as UTC, everything else is passed through."""
    if value is None or not str(values.dtype).startswith("datetime64"):
        return value
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
