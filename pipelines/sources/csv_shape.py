"""Whether a CSV block is plain enough for a device parser to give the host reader's rows.

cuDF's CSV reader is fast but does not report a line with the wrong number of fields, and
its null handling differs from the host reader's (an empty field is always null there; a
quoted value is never null here). So a block goes to the device only when a few vectorised
scans of its bytes prove those differences cannot matter: every line is blank or holds
exactly the header's number of fields, quotes open and close at field boundaries within a
line, there is no carriage return or NUL byte, and no quoted field equals a null marker.
Any other block is parsed on the host, which finds and quarantines each bad line.

The scans use only what numpy and CuPy share, so on the GPU backend they run on the device
copy of the block (milliseconds) instead of holding a host core longer than parsing would.
"""

from __future__ import annotations

from typing import Any

from assay.pipelines.sources.lines import line_bounds_of
from assay.transforms.frame import array_module

Array = Any  # numpy or CuPy


def plain_lines(view: Array, fields: int, delimiter: str, quote_char: str,
                null_values: list[str]) -> Array | None:
    """The indices of the non-blank lines of the block ``view`` (its bytes as uint8) when a
    plain CSV parse of it (quotes honoured, ``""`` an escaped quote, blank lines skipped,
    every field a string, empty fields read as "") gives one row per non-blank line with
    the values the host reader gives once unquoted null markers are set to null; else None.

    Once every line holds an even number of quotes, the quotes pair up in block order
    (first with second, third with fourth, ...) without a pair crossing a line, and a
    delimiter is inside a quoted field exactly when it lies within a pair."""
    xp = array_module(view)
    if len(view) == 0 or bool(((view == 13) | (view == 0)).any()):
        return None  # line ends and NULs: parsers differ on them
    starts, ends = line_bounds_of(view)
    delimiters = xp.flatnonzero(view == ord(delimiter))
    quotes = xp.flatnonzero(view == ord(quote_char))
    counted = _between(delimiters, starts, ends) + 1
    if len(quotes):
        lines = xp.searchsorted(ends, quotes, side="left")
        if bool((xp.bincount(lines, minlength=len(ends)) % 2).any()):
            return None
        if not _quotes_at_boundaries(view, quotes, starts[lines], ends[lines], delimiter,
                                     quote_char, null_values):
            return None
        quoted = _between(delimiters, quotes[0::2], quotes[1::2])
        counted -= xp.bincount(lines[0::2], weights=quoted, minlength=len(ends)).astype(
            counted.dtype)
    content = xp.flatnonzero(ends > starts)
    return content if bool((counted[content] == fields).all()) else None


def _between(positions: Array, lo: Array, hi: Array) -> Array:
    """How many of the sorted ``positions`` lie in each range [lo, hi)."""
    xp = array_module(positions)
    return xp.searchsorted(positions, hi) - xp.searchsorted(positions, lo)


def _quotes_at_boundaries(view: Array, quotes: Array, start: Array, stop: Array,
                          delimiter: str, quote_char: str, null_values: list[str]) -> bool:
    """An opening quote (even rank) starts a field or follows the closing quote of an
    escaped pair; a closing quote ends a field or precedes the opening quote of an escaped
    pair; and no quoted field equals a null marker. ``start``/``stop`` are the bounds of
    each quote's line."""
    xp = array_module(view)
    opening = xp.arange(len(quotes)) % 2 == 0
    before = view[xp.maximum(quotes - 1, 0)]
    after = view[xp.minimum(quotes + 1, len(view) - 1)]
    delim, quote = ord(delimiter), ord(quote_char)
    field_start = (quotes == start) | (before == delim)
    closes_field = (quotes + 1 == stop) | (after == delim) | (after == quote)
    opens_ok = bool((field_start | (before == quote))[opening].all())
    if not (opens_ok and bool(closes_field[~opening].all())):
        return False
    return not any(_quoted_value_found(view, quotes, opening & field_start, stop, delim,
                                       marker) for marker in null_values)


def _quoted_value_found(view: Array, quotes: Array, field_opening: Array, stop: Array,
                        delim: int, marker: str) -> bool:
    """Whether a whole quoted field is exactly ``marker`` (the host keeps it as a string,
    a plain parse would make it null). ``field_opening`` marks the quotes that open a
    field (not the second quote of an escaped pair)."""
    xp = array_module(view)
    encoded = marker.encode()
    gaps = quotes[1:] - quotes[:-1]
    first = xp.flatnonzero(field_opening[:-1] & (gaps == len(encoded) + 1))
    if len(first) == 0:
        return False
    opened, closed = quotes[first], quotes[first + 1]
    after = view[xp.minimum(closed + 1, len(view) - 1)]
    same = (closed + 1 == stop[first]) | (after == delim)
    for offset, byte in enumerate(encoded):
        same &= view[opened + 1 + offset] == byte
    return bool(same.any())
