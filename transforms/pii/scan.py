"""Finding and redacting PII in one string column of a partition.

RE2 (pyarrow.compute, vectorized over the column) does the searching: one pass with every
detector's pattern joined marks the documents that could hold PII at all; on those, per
detector, a match pass picks the documents holding its candidates and a replace pass wraps
each candidate in them in marker characters, from which their positions are read with
``str.find``. Prose without ``@``, long digit runs or
hex-and-colon groups never reaches Python, and Python's own regex engine only confirms a
candidate where RE2 found one (it would otherwise scan every document once per detector,
at several times RE2's cost).

What stays in Python, per candidate and by necessity: the validators (a checksum, a
numbering plan, an address parser have no vectorized form) and the rebuilt string. Their
cost grows with the candidates, not the text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.pii.detectors import Detector, Options, Span

Found = list[tuple[int, int, str]]  # (start, end, kind), in text order, never overlapping
_BLANK = "\x00"  # stands for taken text: no pattern matches it, and it is no letter or digit
_OPEN, _CLOSE = "\x01", "\x02"  # around each candidate RE2 found (see _located)


@dataclass
class ColumnScan:
    """What one column holds: the redacted strings (None: nothing to redact) and, per kind,
    how many were found in each row."""

    redacted: pa.Array | None
    counts: dict[str, np.ndarray]


def _marked(values: pa.Array, pattern: str) -> np.ndarray:
    """Whether each string holds a match of ``pattern`` (RE2; nulls: False)."""
    return pc.match_substring_regex(values, pattern).fill_null(False).to_numpy(
        zero_copy_only=False)


def _located(values: pa.Array, pattern: str) -> tuple[np.ndarray, list[list[Span]]]:
    """The strings where RE2 finds ``pattern`` (their positions in ``values``) and where in
    each: leftmost-first, non-overlapping, as Python's ``finditer`` would, in character
    offsets. A match pass picks the strings (cheap: RE2 stops at the first match), a
    replace pass wraps each match in them in marker characters, found with ``str.find``
    (positions in a string that held a marker character itself are wrong, and not used)."""
    holds = np.flatnonzero(_marked(values, pattern))
    if not holds.size:
        return holds, []
    wrapped = pc.replace_substring_regex(values.take(pa.array(holds)), pattern,
                                         f"{_OPEN}\\0{_CLOSE}")
    located = []
    for text in wrapped.to_pylist():
        spans: list[Span] = []
        shift, at = 0, text.find(_OPEN)
        while at >= 0:
            close = text.find(_CLOSE, at)
            if close < 0:  # a marker the text held (scan_column searches such texts whole)
                break
            spans.append((at - shift, close - shift - 1))
            shift += 2
            at = text.find(_OPEN, close)
        located.append(spans)
    return holds, located


def find(text: str, detectors: Sequence[Detector], options: Options,
         allow: frozenset[str] = frozenset(),
         located: Sequence[list[Span] | None] | None = None) -> Found:
    """The PII in ``text``: each detector in priority order, on the text with what earlier
    ones took blanked out (same length, so positions hold), so a later detector neither
    claims nor pays to validate it again (a card's digits are no phone candidate). A span
    whose text is in ``allow`` is blanked but not taken. ``located``: per detector, where
    RE2 found its candidates (None: search the whole text)."""
    taken: Found = []
    searched = text
    for number, detector in enumerate(detectors):
        pattern = detector.compiled
        hint = located[number] if located is not None else None
        ends = None if hint is None else [end for _, end in hint]
        position = 0
        confirmed: list[Span] = []
        while (match := _search(pattern, searched, position, hint, ends)) is not None:
            spans = detector.find(searched, match, options)
            confirmed += spans
            position = _resume(searched, match, spans, detector.separators)
        taken += [(start, end, detector.kind) for start, end in confirmed
                  if text[start:end] not in allow]
        if confirmed:
            searched = _blanked(searched, confirmed)
    return sorted(taken)


def _blanked(text: str, spans: list[Span]) -> str:
    """``text`` with ``spans`` (in text order) blanked out, in one pass over the text."""
    pieces, last = [], 0
    for start, end in spans:
        start = max(start, last)
        pieces += [text[last:start], _BLANK * (end - start)]
        last = max(end, last)
    pieces.append(text[last:])
    return "".join(pieces)


def _search(pattern: re.Pattern[str], text: str, position: int, hint: list[Span] | None,
            ends: list[int] | None) -> re.Match[str] | None:
    """The next candidate from ``position``. Given where RE2 found the candidates (``hint``,
    and their ``ends``), no match can start between the end of one and the start of the
    next (RE2 would have found it, and blanking only removes matches), so the search
    starts at the next one, or at ``position`` when that lies inside one (a rejected
    candidate searched again from a separator); past the last, there is none."""
    if hint is None or ends is None:
        return pattern.search(text, position)
    at = bisect_right(ends, position)  # the first candidate ending after position
    if at == len(hint):
        return None
    return pattern.search(text, max(hint[at][0], position))


def _resume(text: str, match: re.Match[str], spans: list[Span], separators: str) -> int:
    """Where to search next: after what was confirmed, else after the candidate's first
    separator (the next group may start an identifier), else after the candidate."""
    if spans:
        return max(end for _, end in spans)
    for at in range(match.start() + 1, match.end()):
        if text[at] in separators:
            return at + 1
    return match.end()


def redact(text: str, found: Found, tokens: dict[str, str]) -> str:
    pieces, last = [], 0
    for start, end, kind in found:
        pieces += [text[last:start], tokens[kind]]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def scan_column(values: pa.Array, detectors: Sequence[Detector], options: Options,
                tokens: dict[str, str] | None, allow: frozenset[str]) -> ColumnScan:
    """Find the PII of ``values`` (Arrow strings) and, given ``tokens``, redact it."""
    kinds = list(dict.fromkeys(detector.kind for detector in detectors))
    counts = {kind: np.zeros(len(values), dtype=np.int64) for kind in kinds}
    rows = np.flatnonzero(_marked(values, "|".join(
        f"(?:{pattern})" for pattern in dict.fromkeys(d.pattern for d in detectors))))
    if not rows.size:
        return ColumnScan(None, counts)
    subset = values.take(pa.array(rows))
    texts = subset.to_pylist()
    located = [_located(subset, detector.pattern) for detector in detectors]
    by_row: list[dict[int, list[Span]]] = [dict(zip(*pair, strict=True)) for pair in located]
    changed = np.zeros(len(values), dtype=bool)
    redacted: list[str] = []  # in row order, for the changed rows
    for at, (row, text) in enumerate(zip(rows, texts, strict=True)):
        if _OPEN in text or _CLOSE in text:  # RE2's positions would be off: search it all
            found = find(text, detectors, options, allow)
        else:
            active = [n for n, spans in enumerate(by_row) if at in spans]
            found = find(text, [detectors[n] for n in active], options, allow,
                         [by_row[n][at] for n in active])
        for _, _, kind in found:
            counts[kind][row] += 1
        if found and tokens is not None:
            changed[row] = True
            redacted.append(redact(text, found, tokens))
    if not redacted:
        return ColumnScan(None, counts)
    new = pa.array(redacted, values.type)
    return ColumnScan(pc.replace_with_mask(values, pa.array(changed), new), counts)
