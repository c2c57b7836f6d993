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
    of a record over the limit whose line does not end within the buffer. ``newlines``:
    where the buffer's newlines are, for line numbers."""

    starts: np.ndarray
    ends: np.ndarray
    newlines: np.ndarray
    bad: list[BadSpan] = field(default_factory=list)
    rest: int = 0
    overlong: int | None = None


class _QuoteState:
    """Inside or outside quotes at any position of ``view`` (a record starts at 0).

    Where every quote that the plain parity count finds outside quotes starts a field (or
    follows a quote), as in any file whose quotes follow RFC 4180, that count is the state:
    each quote toggles it. Only other data pays for the runs of quotes."""

    def __init__(self, view: np.ndarray, quote: int | None, delimiter: int) -> None:
        self.run_starts = np.flatnonzero(view == quote) if quote is not None \
            else np.zeros(0, dtype=np.int64)
        self.inside_after: np.ndarray | None = None  # None: each quote toggles
        self.opens: np.ndarray | None = None
        starts_field = np.zeros(256, dtype=bool)
        starts_field[[delimiter, NEWLINE, CARRIAGE_RETURN]] = True
        outside = self.run_starts[0::2]  # quotes the parity count finds outside quotes
        follows = starts_field | (np.arange(256) == quote)
        if bool((follows[view[outside - 1]] | (outside == 0)).all()):
            return
        self._runs(view, starts_field)

    def _runs(self, view: np.ndarray, starts_field: np.ndarray) -> None:
        quotes = self.run_starts
        first = np.ones(len(quotes), dtype=bool)
        np.not_equal(quotes[1:], quotes[:-1] + 1, out=first[1:])
        heads = np.flatnonzero(first)
        starts = quotes[heads]
        odd = (np.diff(heads, append=len(quotes)) & 1).astype(bool)
        field_start = starts_field[view[starts - 1]] | (starts == 0)
        flips = np.cumsum(odd & field_start, dtype=np.int64)
        # resets (odd runs elsewhere) leave the state outside; flips since the last one
        flips_at_reset = np.maximum.accumulate(np.where(odd & ~field_start, flips, 0))
        self.run_starts = starts
        self.inside_after = ((flips - flips_at_reset) & 1).astype(bool)
        self.opens = self.inside_after & ~np.concatenate(([False], self.inside_after[:-1]))

    def inside(self, positions: np.ndarray) -> np.ndarray:
        """Whether each position (not a quote) lies inside a quoted value."""
        before = np.searchsorted(self.run_starts, positions)  # runs before each position
        if self.inside_after is None:
            return (before & 1).astype(bool)
        return (before > 0) & self.inside_after[np.maximum(before - 1, 0)]

    def opener(self, position: int) -> int:
        """Where the quoted value open at ``position`` was opened."""
        before = int(np.searchsorted(self.run_starts, position))
        if self.opens is None:
            return int(self.run_starts[before - 1])
        return int(self.run_starts[np.flatnonzero(self.opens[:before])[-1]])


def split_records(view: np.ndarray, quote: int | None, delimiter: int, limit: int,
                  final: bool) -> Records:
    """The records of ``view`` (bytes as uint8, a record starting at 0); ``quote`` None for
    JSON Lines, whose records are lines. ``final``: the data ends with ``view``, else a
    record left unfinished at its end is left for the caller to extend."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    bad: list[BadSpan] = []
    every_newline = np.flatnonzero(view == NEWLINE)

    def done(rest: int, overlong: int | None = None) -> Records:
        return Records(np.concatenate(starts).astype(np.int64),
                       np.concatenate(ends).astype(np.int64), every_newline, bad, rest,
                       overlong)

    position = 0
    while True:
        sub = view[position:]
        state = _QuoteState(sub, quote, delimiter)
        newlines = every_newline[np.searchsorted(every_newline, position):] - position
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
                return done(position + start)
            if tail <= limit and not state.inside(np.array([len(sub)]))[0]:
                starts.append(np.array([position + start]))
                ends.append(np.array([position + len(sub)]))
                return done(len(view))
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
                return done(len(view))
        line_end = after[after >= check]
        if len(line_end) == 0 and not final:
            return done(position + start, position + start)
        end = int(line_end[0]) if len(line_end) else len(sub)
        bad.append(BadSpan(position + start, position + end, too_long(limit)))
        position += end + 1
        if position >= len(view):
            return done(len(view))

