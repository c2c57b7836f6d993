"""Where the records of CSV or JSON Lines bytes begin and end, found by vectorised scans.

RFC 4180 lets a quoted CSV value hold newlines, so a record can span lines: a newline ends a
record only outside quotes. Whether a position is inside quotes follows from the runs of
quote characters before it, read as the host parser (pyarrow, like Python's csv) reads them:
a quote opens a quoted value only where a field starts (after a delimiter or a line end),
inside one a pair of quotes is an escaped quote and a lone quote closes it, and anywhere
else a quote is a literal character. So a run of quotes acts on the inside/outside state as
one of three functions: an even run changes nothing, an odd run at a field start flips it,
an odd run elsewhere leaves it outside. The state after each run is then the parity of the
flips since the last reset: a cumulative sum, no per-byte loop.

Two limits keep a record from swallowing the rest of the upload: a quote still open at the
end of the data, or one still open ``limit`` bytes after its record began with a line end
after it, is an unbalanced quote (its record up to the end of the quote's line is bad, and
reading starts again on the next line); a record longer than ``limit`` bytes any other way
is bad up to the end of the line where it passed the limit. Both rules look only at bytes
from the record's start, so a scan of the whole file and a reader of one block that starts
at a record start find the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEWLINE, CARRIAGE_RETURN = 10, 13
UNBALANCED_QUOTE = "malformed: unbalanced quote (a quoted value that never closes)"


def too_long(limit: int) -> str:
    return f"malformed: a record longer than {limit:,} bytes (source.max_record_bytes)"


@dataclass(frozen=True)
class BadSpan:
    """Bytes [start, end) that are no record (``end`` excludes the line's newline)."""

    start: int
    end: int
    reason: str


@dataclass
class Records:
    """Records found in a buffer: ``starts``/``ends`` (end excludes the newline), the bad
    spans among them, and ``rest``: where the bytes not yet split begin (an unfinished
    record; the buffer's length when it was the end of the data). ``overlong`` is the start
    of a record over the limit whose line does not end within the buffer."""

    starts: np.ndarray
    ends: np.ndarray
    bad: list[BadSpan] = field(default_factory=list)
    rest: int = 0
    overlong: int | None = None


class _QuoteState:
    """Inside or outside quotes at any position of ``view`` (a record starts at 0)."""

    def __init__(self, view: np.ndarray, quote: int | None, delimiter: int) -> None:
        quotes = np.flatnonzero(view == quote) if quote is not None else np.zeros(0, np.int64)
        if len(quotes) == 0:
            self.run_starts = quotes
            self.inside_after = self.opens = np.zeros(0, dtype=bool)
            return
        first = np.ones(len(quotes), dtype=bool)
        first[1:] = quotes[1:] != quotes[:-1] + 1
        heads = np.flatnonzero(first)
        starts = quotes[heads]
        odd = np.diff(np.append(heads, len(quotes))) % 2 == 1
        before = view[np.maximum(starts - 1, 0)]
        field_start = (starts == 0) | (before == delimiter) | (before == NEWLINE) \
            | (before == CARRIAGE_RETURN)
        flips = odd & field_start
        resets = odd & ~field_start
        flipped = np.cumsum(flips)
        last_reset = np.maximum.accumulate(np.where(resets, np.arange(len(starts)), -1))
        since = flipped - np.where(last_reset >= 0, flipped[np.maximum(last_reset, 0)], 0)
        self.run_starts = starts
        self.inside_after = since % 2 == 1
        inside_before = np.concatenate(([False], self.inside_after[:-1]))
        self.opens = self.inside_after & ~inside_before

    def inside(self, positions: np.ndarray) -> np.ndarray:
        """Whether each position (not a quote) lies inside a quoted value."""
        runs = np.searchsorted(self.run_starts, positions) - 1
        return (runs >= 0) & self.inside_after[np.maximum(runs, 0)] \
            if len(self.run_starts) else np.zeros(len(positions), dtype=bool)

    def opener(self, position: int) -> int:
        """Where the quoted value open at ``position`` was opened."""
        runs = np.flatnonzero(self.opens[:np.searchsorted(self.run_starts, position)])
        return int(self.run_starts[runs[-1]])


def split_records(view: np.ndarray, quote: int | None, delimiter: int, limit: int,
                  final: bool) -> Records:
    """The records of ``view`` (bytes as uint8, a record starting at 0); ``quote`` None for
    JSON Lines, whose records are lines. ``final``: the data ends with ``view``, else a
    record left unfinished at its end is left for the caller to extend."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    bad: list[BadSpan] = []
    position = 0
    while True:
        sub = view[position:]
        state = _QuoteState(sub, quote, delimiter)
        newlines = np.flatnonzero(sub == NEWLINE)
        record_ends = newlines[~state.inside(newlines)]
        record_starts = np.concatenate(([0], record_ends[:-1] + 1)).astype(np.int64)
        long = np.flatnonzero(record_ends - record_starts > limit)
        kept = int(long[0]) if len(long) else len(record_ends)
        starts.append(position + record_starts[:kept])
        ends.append(position + record_ends[:kept])
        if kept < len(record_ends):
            start = int(record_starts[kept])
        else:
            start = int(record_ends[-1]) + 1 if len(record_ends) else 0
            tail = len(sub) - start
            if tail == 0 or (not final and tail <= limit):
                return _records(starts, ends, bad, position + start)
            if tail <= limit and not state.inside(np.array([len(sub)]))[0]:
                starts.append(np.array([position + start]))
                ends.append(np.array([position + len(sub)]))
                return _records(starts, ends, bad, len(view))
        check = min(start + limit, len(sub))
        after = newlines[newlines >= start]
        if state.inside(np.array([check]))[0]:
            opened = state.opener(check)
            line_end = after[after >= opened]
            if len(line_end) and line_end[0] < check:
                bad.append(BadSpan(position + start, position + int(line_end[0]),
                                   UNBALANCED_QUOTE))
                position += int(line_end[0]) + 1
                continue
            if check == len(sub):  # the data ends on the quote's line
                bad.append(BadSpan(position + start, len(view), UNBALANCED_QUOTE))
                return _records(starts, ends, bad, len(view))
        line_end = after[after >= check]
        if len(line_end) == 0 and not final:
            return _records(starts, ends, bad, position + start, position + start)
        end = int(line_end[0]) if len(line_end) else len(sub)
        bad.append(BadSpan(position + start, position + end, too_long(limit)))
        position += end + 1
        if position >= len(view):
            return _records(starts, ends, bad, len(view))


def _records(starts: list[np.ndarray], ends: list[np.ndarray], bad: list[BadSpan],
             rest: int, overlong: int | None = None) -> Records:
    return Records(np.concatenate(starts).astype(np.int64),
                   np.concatenate(ends).astype(np.int64), bad, rest, overlong)
