"""Finding and redacting PII in one string column of a partition.

The whole column goes through RE2 first (pyarrow.compute, vectorized): one pass with every
detector's pattern joined marks the documents that could hold PII at all; the marked ones
get one pass per detector, so a document is searched in Python only by the detectors whose
candidates it holds. Prose without ``@``, long digit runs or hex-and-colon groups never
reaches Python. What remains per document is Python by necessity: ``re.finditer`` for the
candidates' positions (Arrow has no find-all), then the validators of ``detectors`` and the
rebuilt string; their cost grows with the candidates, not the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.pii.detectors import Detector, Options, Span

Found = list[tuple[int, int, str]]  # (start, end, kind), in text order, never overlapping


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


def find(text: str, detectors: Sequence[Detector], options: Options,
         allow: frozenset[str] = frozenset()) -> Found:
    """The PII in ``text``: each detector in priority order; a span overlapping one already
    taken, or whose text is in ``allow``, is left out."""
    taken: Found = []
    for detector in detectors:
        pattern = detector.compiled
        position = 0
        while (match := pattern.search(text, position)) is not None:
            spans = detector.find(text, match, options)
            for start, end in spans:
                if text[start:end] not in allow and not any(
                        start < other_end and other_start < end
                        for other_start, other_end, _ in taken):
                    taken.append((start, end, detector.kind))
            position = _resume(text, match, spans, detector.separators)
    return sorted(taken)


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
    marked = np.flatnonzero(_marked(values, "|".join(
        f"(?:{pattern})" for pattern in dict.fromkeys(d.pattern for d in detectors))))
    if not marked.size:
        return ColumnScan(None, counts)
    subset = values.take(pa.array(marked))
    candidates = np.column_stack([_marked(subset, d.pattern) for d in detectors])
    changed = np.zeros(len(values), dtype=bool)
    redacted: list[str] = []  # in row order, for the changed rows
    for row, text, holds in zip(marked, subset.to_pylist(), candidates, strict=True):
        found = find(text, [d for d, has in zip(detectors, holds, strict=True) if has],
                     options, allow)
        for _, _, kind in found:
            counts[kind][row] += 1
        if found and tokens is not None:
            changed[row] = True
            redacted.append(redact(text, found, tokens))
    if not redacted:
        return ColumnScan(None, counts)
    new = pa.array(redacted, values.type)
    return ColumnScan(pc.replace_with_mask(values, pa.array(changed), new), counts)
