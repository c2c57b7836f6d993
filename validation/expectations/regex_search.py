"""GE's regex search, ``column.astype(str).str.contains(pattern)``, with a byte scan for the
patterns that only ask whether some ASCII characters occur.

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


def _scan(chunk: pa.Array, test: ByteTest) -> np.ndarray:
    """Per value of a string or large_string array, whether ``test`` holds (nulls: any)."""
    width = np.int32 if chunk.type == pa.string() else np.int64
    _, offsets, data = chunk.buffers()
    offsets = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
    bytes_ = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] \
        if data is not None else np.zeros(0, dtype=np.uint8)
    hit = np.zeros(len(bytes_), dtype=bool)
    for char in test.chars:
        hit |= bytes_ == char
    rows = np.searchsorted(offsets, np.flatnonzero(hit) + offsets[0], side="right") - 1
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
    arrow = arrow_strings(strings) if test is not None else None
    if arrow is None or arrow.type not in (pa.string(), pa.large_string()):
        return strings.str.contains(pattern, regex=True, flags=flags)
    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    holds = np.concatenate([_scan(c, test) for c in chunks]) if chunks else \
        np.zeros(0, dtype=bool)
    return pd.Series(holds, index=values.index)
