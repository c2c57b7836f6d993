"""GE's string checks answered from the Arrow buffers where the bytes alone decide: regex
searches that only ask whether some ASCII characters occur, and lengths of ASCII text.

Lengths: GE counts ``len(str(value))``, characters; pandas asks Arrow's ``utf8_length``
(about 17 ns a row on 32-byte strings). Where no byte of the column is 0x80 or above,
every character is one byte, and the lengths are the offsets' differences.

Searches: GE's ``column.astype(str).str.contains(pattern)``.
On Arrow-backed strings pandas hands the search to RE2 (``pyarrow.compute.
match_substring_regex``), which costs 40 to 70 ns a row on short strings. A few patterns
common in suites decide on bytes alone: ``<`` or ``[<>]`` (one of these characters
occurs), ``^\\S+$`` or ``^[^<>]*$`` (none of them occurs, and with ``+`` the value is not
empty). For those, one vectorised comparison over the Arrow data buffer, mapped back to rows
through the offsets, gives RE2's answer exactly: UTF-8 never uses an ASCII byte inside a
multi-byte character, RE2's ``\\S`` is any character but ``[\\t\\n\\f\\r ]``, its ``$``
without the multi-line flag is the end of the text, and a negated class matches a newline.
Any other pattern, any flag, and columns that are not Arrow strings (cuDF, Python strings)
take pandas' own path, so the answer is always the one pandas gives GE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from assay.transforms.frame import arrow_strings, as_string

_PRINTABLE = "".join(chr(code) for code in range(0x20, 0x7F))
_LITERALS = "".join(c for c in _PRINTABLE if c not in "\\^$.|?*+()[]{}")  # RE2: itself
_IN_CLASS = "".join(c for c in _PRINTABLE if c not in "\\[]^-")  # itself inside [...]
_SPACE = b"\t\n\f\r "  # RE2's \s (Perl's class, ASCII only, no \v)


@dataclass(frozen=True)
class ByteTest:
    """A pattern's search as a byte test: it matches where a byte of ``chars`` occurs
    (``found``), or where none occurs (not ``found``), and the value is non-empty when
    ``non_empty``."""

    chars: bytes
    found: bool
    non_empty: bool = False


_ANY_OF = re.compile(rf"\[([{re.escape(_IN_CLASS)}]+)\]|([{re.escape(_LITERALS)}])")
_NONE_OF = re.compile(rf"\^(?:\[\^([{re.escape(_IN_CLASS)}]+)\]|(\\S))([+*])\$")


def byte_test(pattern: str) -> ByteTest | None:
    """The byte test equal to RE2's search for ``pattern``; None where there is none."""
    if found := _ANY_OF.fullmatch(pattern):
        return ByteTest((found[1] or found[2]).encode(), found=True)
    if none := _NONE_OF.fullmatch(pattern):
        chars = none[1].encode() if none[1] else _SPACE
        return ByteTest(chars, found=False, non_empty=none[3] == "+")
    return None


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string or large_string array's offsets and the bytes they span, without a copy."""
    width = np.int32 if chunk.type == pa.string() else np.int64
    _, offsets, data = chunk.buffers()
    offsets = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
    bytes_ = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] \
        if data is not None else np.zeros(0, dtype=np.uint8)
    return offsets, bytes_


def _chunks(strings: Any) -> list[pa.Array] | None:
    """The Arrow chunks of an Arrow-backed string column; None for any other column."""
    arrow = arrow_strings(strings)
    if arrow is None or arrow.type not in (pa.string(), pa.large_string()):
        return None
    return arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]


def lengths(values: Any) -> Any:
    """GE's ``len(str(value))`` of each value (nulls: any value, as they are never
    evaluated)."""
    strings = as_string(values)
    chunks = _chunks(strings)
    if chunks is None:
        return strings.str.len()
    parts = [_buffers(chunk) for chunk in chunks]
    if any(len(bytes_) and int(bytes_.max()) >= 0x80 for _, bytes_ in parts):
        return strings.str.len()
    sizes = [np.diff(offsets) for offsets, _ in parts]
    return pd.Series(np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64),
                     index=values.index)


def _scan(chunk: pa.Array, test: ByteTest) -> np.ndarray:
    """Per value of a string or large_string array, whether ``test`` holds (nulls: any)."""
    offsets, bytes_ = _buffers(chunk)
    low, high = min(test.chars), max(test.chars)
    near = np.flatnonzero(bytes_ - np.uint8(low) <= high - low)  # one range test (wraps)
    wanted = np.zeros(256, dtype=bool)
    wanted[list(test.chars)] = True
    hits = near[wanted[bytes_[near]]]  # the few bytes in range, tested exactly
    rows = np.searchsorted(offsets, hits + offsets[0], side="right") - 1
    found = np.zeros(len(chunk), dtype=bool)
    found[rows] = True
    if test.found:
        return found
    holds = ~found
    if test.non_empty:
        holds &= np.diff(offsets) > 0
    return holds


def search(values: Any, pattern: str, flags: int = 0) -> Any:
    """GE's ``column.astype(str).str.contains(pattern)``: an unanchored search (nulls:
    any value, as they are never evaluated)."""
    strings = as_string(values)
    test = byte_test(pattern) if not flags else None
    chunks = _chunks(strings) if test is not None else None
    if chunks is None:
        return strings.str.contains(pattern, regex=True, flags=flags)
    holds = np.concatenate([_scan(c, test) for c in chunks]) if chunks else \
        np.zeros(0, dtype=bool)
    return pd.Series(holds, index=values.index)
