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
_WINDOW = 1 << 20  # bytes whose quote state is found at once
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


class _Window:
    """The records of ``view[base:stop]`` as the quote state from ``base`` finds them: the
    ends (absolute) of those that end in it, their starts, and which are over the limit."""

    def __init__(self, view: np.ndarray, every_newline: np.ndarray, base: int, stop: int,
                 quote: int | None, delimiter: int, limit: int) -> None:
        self.base, self.stop = base, stop
        self.state = _QuoteState(view[base:stop], quote, delimiter)
        first, after = np.searchsorted(every_newline, [base, stop])
        self.newlines = every_newline[first:after] - base
        self.ends = self.newlines[~self.state.inside(self.newlines)] + base
        self.starts = np.concatenate(([base], self.ends[:-1] + 1)).astype(np.int64)
        self.long = np.flatnonzero(self.ends - self.starts > limit)

    def inside(self, position: int) -> bool:
        return bool(self.state.inside(np.array([position - self.base]))[0])

    def opener(self, position: int) -> int:
        return self.base + self.state.opener(position - self.base)


def split_records(view: np.ndarray, quote: int | None, delimiter: int, limit: int,
                  final: bool, window: int = _WINDOW) -> Records:
    """The records of ``view`` (bytes as uint8, a record starting at 0); ``quote`` None for
    JSON Lines, whose records are lines. ``final``: the data ends with ``view``, else a
    record left unfinished at its end is left for the caller to extend.

    The quote state is found for ``window`` bytes at a time (a MiB stays in the CPU's
    cache; a window grows while a record does not end in it). After a bad span, reading
    starts again on the next line, outside quotes: the window's state holds on where it
    also finds that line outside quotes (a line too long), and only a window from there is
    scanned again where it does not (an unbalanced quote), so a block of many bad records
    costs about a scan of it and a window per unbalanced quote."""
    starts: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    ends: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    bad: list[BadSpan] = []
    every_newline = np.flatnonzero(view == NEWLINE)
    first_size = min(window, max(4 * limit, 1 << 16))  # a bad span rescans a few limits
    size = first_size

    def window_at(start: int, grown: bool = False) -> _Window:
        nonlocal size
        size = 2 * size if grown else first_size
        return _Window(view, every_newline, start, min(start + size, len(view)), quote,
                       delimiter, limit)

    def done(rest: int, overlong: int | None = None) -> Records:
        return Records(np.concatenate(starts), np.concatenate(ends), every_newline, bad,
                       rest, overlong)

    position = 0
    window = window_at(0)
    while True:
        last = window.stop == len(view)
        index = int(np.searchsorted(window.starts, position))  # the record at ``position``
        kept = int(window.long[np.searchsorted(window.long, index)]) \
            if np.searchsorted(window.long, index) < len(window.long) else len(window.ends)
        starts.append(window.starts[index:kept])
        ends.append(window.ends[index:kept])
        if kept < len(window.ends):
            start = int(window.starts[kept])
        else:
            start = int(window.ends[-1]) + 1 if len(window.ends) else window.base
            start = max(start, position)
            tail = window.stop - start
            if tail <= limit and not last:  # the window ends in a record: go on from it
                window = window_at(start, grown=start == position)
                position = start
                continue
            if tail == 0 or (tail <= limit and not final):
                return done(start)
            if tail <= limit and not window.inside(len(view)):
                starts.append(np.array([start]))
                ends.append(np.array([len(view)]))
                return done(len(view))
        check = min(start + limit, window.stop)  # past the limit, or the end of the data
        if window.inside(check):
            line_end = window.newlines[window.newlines >= window.opener(check) - window.base]
            if len(line_end) and window.base + line_end[0] < check:
                position = window.base + int(line_end[0]) + 1
                bad.append(BadSpan(start, position - 1, UNBALANCED_QUOTE))
                window = window_at(position)
                continue
            if check == len(view):  # the data ends on the quote's line
                bad.append(BadSpan(start, len(view), UNBALANCED_QUOTE))
                return done(len(view))
        following = int(np.searchsorted(every_newline, check))
        if following == len(every_newline) and not final:
            return done(start, start)
        end = int(every_newline[following]) if following < len(every_newline) else len(view)
        bad.append(BadSpan(start, end, too_long(limit)))
        position = end + 1
        if position >= len(view):
            return done(len(view))
        if position >= window.stop or window.inside(position):
            window = window_at(position)
