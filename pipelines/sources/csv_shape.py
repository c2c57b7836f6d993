"""Whether a CSV block is plain enough for a device parser to give the host reader's rows.

cuDF's CSV reader is fast but does not report a line with the wrong number of fields, and
its null handling differs from the host reader's (an empty field is always null there; a
quoted value is never null here). So a block goes to the device only when a few vectorised
scans of its bytes prove those differences cannot matter: every line is blank or holds
exactly the header's number of fields, quotes open and close at field boundaries within a
line, there is no carriage return or NUL byte, and no quoted field equals a null marker.
Any other block is parsed on the host, which finds and quarantines each bad line.
"""

from __future__ import annotations

import numpy as np


def _positions(view: np.ndarray, char: str) -> np.ndarray:
    return np.flatnonzero(view == ord(char))


def _between(positions: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How many of the sorted ``positions`` lie in each range [lo, hi)."""
    return np.searchsorted(positions, hi) - np.searchsorted(positions, lo)


def plain_parse_is_exact(data: bytes, starts: np.ndarray, ends: np.ndarray,
                         blank: np.ndarray, fields: int, delimiter: str, quote_char: str,
                         null_values: list[str]) -> bool:
    """True when a plain CSV parse of ``data`` (quotes honoured, ``""`` an escaped quote,
    blank lines skipped, every field a string, empty fields read as "") gives one row per
    non-blank line with the values the host reader gives, once unquoted null markers are
    set to null. ``starts``/``ends`` are the line bounds, ``blank`` the blank lines.

    Once every line holds an even number of quotes, the quotes pair up in file order
    (first with second, third with fourth, ...) without a pair crossing a line, and a
    delimiter is inside a quoted field exactly when it lies within a pair."""
    if len(ends) == 0:
        return True
    if b"\r" in data or b"\x00" in data:  # line ends and NULs: parsers differ on them
        return False
    view = np.frombuffer(data, dtype=np.uint8)
    delimiters = _positions(view, delimiter)
    quotes = _positions(view, quote_char)
    counted = _between(delimiters, starts, ends) + 1
    if len(quotes):
        lines = np.searchsorted(ends, quotes, side="left")
        if (np.bincount(lines, minlength=len(ends)) % 2).any():
            return False
        if not _quotes_at_boundaries(view, quotes, starts[lines], ends[lines], delimiter,
                                     null_values):
            return False
        quoted = _between(delimiters, quotes[0::2], quotes[1::2])
        counted -= np.bincount(lines[0::2], weights=quoted, minlength=len(ends)).astype(
            counted.dtype)
    return bool((counted[~blank] == fields).all())


def _quotes_at_boundaries(view: np.ndarray, quotes: np.ndarray, start: np.ndarray,
                          stop: np.ndarray, delimiter: str, null_values: list[str]) -> bool:
    """An opening quote (even rank) starts a field or follows the closing quote of an
    escaped pair; a closing quote ends a field or precedes the opening quote of an escaped
    pair; and no quoted field equals a null marker. ``start``/``stop`` are the bounds of
    each quote's line."""
    opening = np.arange(len(quotes)) % 2 == 0
    before = view[np.maximum(quotes - 1, 0)]
    after = view[np.minimum(quotes + 1, len(view) - 1)]
    delim, quote = ord(delimiter), view[quotes[0]]
    field_start = (quotes == start) | (before == delim)
    closes_field = (quotes + 1 == stop) | (after == delim) | (after == quote)
    if not ((field_start | (before == quote))[opening].all() and closes_field[~opening].all()):
        return False
    return not any(_quoted_value_found(view, quotes, opening & field_start, stop, delim,
                                       marker) for marker in null_values)


def _quoted_value_found(view: np.ndarray, quotes: np.ndarray, field_opening: np.ndarray,
                        stop: np.ndarray, delim: int, marker: str) -> bool:
    """Whether a whole quoted field is exactly ``marker`` (the host keeps it as a string,
    a plain parse would make it null). ``field_opening`` marks the quotes that open a
    field (not the second quote of an escaped pair)."""
    encoded = np.frombuffer(marker.encode(), dtype=np.uint8)
    gaps = quotes[1:] - quotes[:-1]
    first = np.flatnonzero(field_opening[:-1] & (gaps == len(encoded) + 1))
    for index in first:
        start, end = quotes[index], quotes[index + 1]
        at_end = end + 1 == stop[index] or view[end + 1] == delim
        if at_end and np.array_equal(view[start + 1:end], encoded):
            return True
    return False
