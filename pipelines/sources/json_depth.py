"""How deeply the lines of JSON Lines bytes nest, found by vectorised scans.

pyarrow's JSON reader infers the type of an undeclared field (kept by `extra_columns:
keep`) by recursing once per nesting level, and a line nested some thousands of levels deep
overflows the stack and kills the process: such a line must be taken out before it is
parsed. Only lines with more opening brackets than the limit are measured, and a bracket
inside a string (after an unescaped quote) does not count.
"""

from __future__ import annotations

import numpy as np

MAX_DEPTH = 1000
TOO_DEEP = f"invalid record: nested deeper than {MAX_DEPTH:,} levels"
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENING, _CLOSING = (ord("["), ord("{")), (ord("]"), ord("}"))


def too_deep(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for the lines [starts, ends) of ``data`` nested deeper than ``MAX_DEPTH``."""
    view = np.frombuffer(data, dtype=np.uint8)
    opening = np.flatnonzero(np.isin(view, _OPENING))
    counts = np.diff(np.searchsorted(opening, np.stack([starts, ends], axis=1).ravel()))[::2]
    deep = np.zeros(len(starts), dtype=bool)
    for index in np.flatnonzero(counts > MAX_DEPTH):
        deep[index] = _depth(view[starts[index]:ends[index]]) > MAX_DEPTH
    return deep


def _depth(line: np.ndarray) -> int:
    """The deepest nesting of brackets outside strings in one line."""
    quotes = np.flatnonzero(line == _QUOTE)
    slashes = np.flatnonzero(line == _BACKSLASH)
    if len(quotes) and len(slashes):  # escaped: after an odd run of backslashes
        first = np.ones(len(slashes), dtype=bool)
        first[1:] = slashes[1:] != slashes[:-1] + 1
        run_start = np.maximum.accumulate(np.where(first, slashes, 0))
        last = np.maximum(np.searchsorted(slashes, quotes) - 1, 0)
        escaped = (slashes[last] == quotes - 1) & ((quotes - run_start[last]) % 2 == 1)
        quotes = quotes[~escaped]
    opening = np.flatnonzero(np.isin(line, _OPENING))
    closing = np.flatnonzero(np.isin(line, _CLOSING))
    brackets = np.concatenate((opening, closing))
    order = np.argsort(brackets, kind="stable")
    steps = np.concatenate((np.ones(len(opening)), -np.ones(len(closing))))[order]
    in_string = np.searchsorted(quotes, brackets[order]) % 2 == 1
    depth = np.cumsum(np.where(in_string, 0, steps))
    return int(depth.max()) if len(depth) else 0
