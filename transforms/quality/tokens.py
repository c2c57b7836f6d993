"""Words of a partition's documents, found with numpy over all its code points at once.

The rules count *words* as datatrove does for English: the tokens of spaCy's blank English
tokenizer. That tokenizer is rule-based Python per document (~1 ms for 2 KB), so this module
reproduces its rules over arrays instead: whitespace separates tokens; the characters spaCy
splits off the start and the end of a whitespace chunk are one token each (a run of dots is
one token, "..."); punctuation inside a chunk stays in its word ("U.S", "3.14", "f(x"),
except the infixes spaCy splits (a hyphen, dash, ``~ : < > = /`` between a letter or digit
and a letter, a comma between letters, a dot between a lower and an upper case letter, two
or more dots) and English clitics ("do" "n't", "it" "'s"); "A." and "e.g." keep their dot
and URLs stay whole. Tokens are identified by Arrow's dictionary encoding of their text.

What spaCy does and this does not: the rest of its exception table ("Mr." keeps its dot,
"cannot" is two words, emoticons such as "):" are one token), e-mail addresses, units after
numbers ("5km"), prefixes it keeps whole ("--flag"). Word counts differ from spaCy's by
~0.5 %; tests/transforms/test_quality_oracle.py measures what that moves: each rule's
decisions agree with datatrove's on all but a few documents near a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.quality.chars import (
    ALPHA,
    DIGIT,
    INFIX,
    PREFIX,
    PUNCT,
    SPACE,
    SUFFIX,
    UPPER,
    classes,
    code_points,
)

_DOT, _COMMA, _QUOTE = ord("."), ord(","), ord("'")
_URL_STARTS = [np.array([ord(c) for c in start], dtype=np.uint32)
               for start in ("http://", "https://", "www.")]
_APOSTROPHES = [ord("'"), ord("\u2019")]
_ONE_LETTER_ENDINGS = [ord(c) for c in "sSdDmM"]  # 's 'd 'm
_TWO_LETTER = [ord(a) * 0x110000 + ord(b) for a, b in
               ("re", "RE", "Re", "ve", "VE", "Ve", "ll", "LL", "Ll")]


@dataclass
class Tokens:
    """The tokens of ``n_docs`` documents, in text order (so grouped by document). Equal
    texts have equal ``id``: the position of the text in ``vocabulary`` (the batch's
    distinct tokens, as UTF-32LE bytes), found on first use (C4 and FineWeb need none).
    The arrays are read-only: a chain's steps share them (``memo``)."""

    # Integers are int32 (int64 past 2**31 code points): a chain's steps hold them (memo)
    doc: np.ndarray  # the document of each token
    length: np.ndarray  # its characters
    start: np.ndarray  # the code point (of the batch's) where it starts
    chunk: np.ndarray  # bool: it starts a whitespace-separated chunk (a ``str.split()`` word)
    word: np.ndarray  # bool: holds a character that is not punctuation (not a "symbol")
    alpha: np.ndarray  # bool: holds a letter
    n_docs: int
    # each token's text, UTF-32LE (a view of the code points), until ``id`` replaces it
    text: pa.Array | None = field(repr=False)

    @cached_property
    def _encoded(self) -> tuple[np.ndarray, pa.Array]:
        assert self.text is not None
        encoded = pc.dictionary_encode(self.text)
        self.text = None  # the ids and the vocabulary hold what it did, in less memory
        return _frozen(encoded.indices.to_numpy()), encoded.dictionary

    @property
    def id(self) -> np.ndarray:
        """int32: which text each token is (its position in ``vocabulary``)."""
        return self._encoded[0]

    @property
    def vocabulary(self) -> pa.Array:
        return self._encoded[1]

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Tokens per document (those of ``mask`` only, when given)."""
        doc = self.doc if mask is None else self.doc[mask]
        return np.bincount(doc, minlength=self.n_docs)

    def total(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` (one per token) per document."""
        return np.bincount(self.doc, weights=values, minlength=self.n_docs)

    def bounds(self) -> np.ndarray:
        """Where each document's tokens start (``n_docs + 1`` values)."""
        return np.searchsorted(self.doc, np.arange(self.n_docs + 1))

    def which(self, texts: list[str]) -> np.ndarray:
        """For each token, the index in ``texts`` of the text it equals, else -1."""
        wanted = pa.array([text.encode("utf-32-le") for text in texts], pa.large_binary())
        found = pc.index_in(self.vocabulary, value_set=wanted)
        lookup = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return lookup[self.id] if len(lookup) else np.full(len(self.id), -1)


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads the bits of uint64 values (wrapping arithmetic)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def tokenize(texts: pa.Array) -> Tokens:
    """The tokens of every text of ``texts`` (a null has none)."""
    points, starts = code_points(texts)
    return tokenize_points(points, starts)


def tokenize_points(points: np.ndarray, starts: np.ndarray) -> Tokens:
    """The tokens of code points ``points``, document ``d`` being ``starts[d]:starts[d+1]``.

    Works on the non-space characters (index ``k``), and beyond a few passes over all of
    them, on their punctuation only: each whitespace chunk peels a prefix (its leading
    PREFIX characters) and a suffix (its trailing SUFFIX characters; a final "." unless
    the rest is one letter or a dotted abbreviation), one token per character but a run
    of dots whole; the middle is one word unless an infix or a clitic ending splits it."""
    bits = classes(points)
    first = np.zeros(len(points) + 1, dtype=bool)  # a document starts here (or ends: size)
    first[starts] = True
    space = (bits & SPACE) != 0
    at = np.flatnonzero(~space)
    kinds, code = bits[at], points[at]
    size = len(at)
    after_gap = first[:-1].copy()  # a document's first character, or one after a space
    after_gap[1:] |= space[:-1]
    new_chunk = after_gap[at]
    chunk_first = np.flatnonzero(new_chunk)
    chunk_end = np.append(chunk_first[1:], size)

    marks = np.flatnonzero(kinds & PUNCT)  # the punctuation, where tokens split
    mark_code = code[marks]
    previous = np.maximum(marks - 1, 0)
    repeat = (code[previous] == mark_code) & ~new_chunk[marks] & (marks > 0)
    follows = np.zeros(len(marks), dtype=bool)
    follows[:-1] = repeat[1:]
    # a run of two or more dots ("...") or straight quotes ("''") is one token
    run = ((mark_code == _DOT) | (mark_code == _QUOTE)) & (repeat | follows)
    dots = np.zeros(size, dtype=bool)
    dots[marks[run]] = True
    prefix = np.zeros(size, dtype=bool)
    prefix[marks] = ((kinds[marks] & PREFIX) != 0) | run
    suffix = np.zeros(size, dtype=bool)
    suffix[marks] = ((kinds[marks] & SUFFIX) != 0) | (mark_code == _DOT)
    lead_end, trail_start = _peel(kinds, code, prefix, suffix, dots, chunk_first, chunk_end)
    peeled = np.concatenate([_span(chunk_first, lead_end), _span(trail_start, chunk_end)])
    edge = np.zeros(size, dtype=bool)
    edge[peeled] = True
    edge[_span(*_urls(code, lead_end, trail_start))] = True  # spaCy keeps a URL whole

    starts_token = new_chunk.copy()
    starts_token[peeled[~(dots[peeled] & (code[np.maximum(peeled - 1, 0)] == code[peeled])
                          & ~new_chunk[peeled])]] = True
    starts_token[lead_end[lead_end < trail_start]] = True  # the middle's first character
    _split_infixes(starts_token, kinds, code, marks[~edge[marks]], edge, new_chunk, dots)
    _split_endings(starts_token, code, lead_end, trail_start)

    offset = np.flatnonzero(starts_token)
    length = np.diff(np.append(offset, size))
    owner = np.searchsorted(offset, marks, side="right") - 1  # the token of each mark
    letters = np.flatnonzero((kinds & ALPHA) == 0)
    no_letter = np.bincount(np.searchsorted(offset, letters, side="right") - 1,
                            minlength=len(offset))
    bounds = np.append(offset, size) * 4
    texts = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offset), [
        None, pa.py_buffer(bounds.astype(np.int64)), pa.py_buffer(code)])
    start = at[offset]
    narrow = np.int32 if len(points) < 2**31 else np.int64
    return Tokens(
        doc=_frozen((np.searchsorted(starts, start, side="right") - 1).astype(narrow)),
        length=_frozen(length.astype(narrow)),
        start=_frozen(start.astype(narrow)),
        chunk=_frozen(new_chunk[offset]),
        word=_frozen(np.bincount(owner, minlength=len(offset)) < length),
        alpha=_frozen(no_letter < length),
        n_docs=len(starts) - 1,
        text=texts,
    )


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def _peel(kinds: np.ndarray, code: np.ndarray, prefix: np.ndarray, suffix: np.ndarray,
          dots: np.ndarray, chunk_first: np.ndarray, chunk_end: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Where each chunk's middle starts and ends once its prefix and suffix characters
    are peeled off; a final single dot stays after one letter or a dotted abbreviation
    ("A.", "e.g."). Loops only over the chunks still peeling (edges are short)."""
    lead_end = chunk_first.copy()
    peeling = np.flatnonzero(prefix[chunk_first]) if len(code) else chunk_first
    while len(peeling):
        lead_end[peeling] += 1
        peeling = peeling[lead_end[peeling] < chunk_end[peeling]]
        peeling = peeling[prefix[lead_end[peeling]]]
    trail_start = chunk_end.copy()
    peeling = np.flatnonzero((chunk_end > lead_end) & suffix[np.maximum(chunk_end - 1, 0)]) \
        if len(code) else chunk_first
    while len(peeling):
        trail_start[peeling] -= 1
        peeling = peeling[trail_start[peeling] > lead_end[peeling]]
        peeling = peeling[suffix[trail_start[peeling] - 1]]
    single_dot = np.flatnonzero(trail_start < chunk_end)
    single_dot = single_dot[(code[trail_start[single_dot]] == _DOT)
                            & ~dots[trail_start[single_dot]]]
    begin, end = lead_end[single_dot], trail_start[single_dot]
    last_letter = (kinds[np.maximum(end - 1, 0)] & ALPHA) != 0
    one_letter = (end - begin == 1) & last_letter
    dotted = (end - begin >= 3) & last_letter & (code[np.maximum(end - 2, 0)] == _DOT)
    trail_start[single_dot[one_letter | dotted]] += 1
    return lead_end, trail_start


def _span(begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Every index of the ranges ``begin[i]:end[i]``, in order."""
    wide = np.flatnonzero(end > begin)
    begin, end = begin[wide], end[wide]
    lengths = end - begin
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths - begin,
                                                     lengths)


def _urls(code: np.ndarray, lead_end: np.ndarray, trail_start: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """The middles (begin, end) that start with "http://", "https://" or "www."."""
    if not len(code):
        return lead_end, trail_start
    candidate = np.flatnonzero((trail_start - lead_end > 4) & np.isin(
        code[np.minimum(lead_end, len(code) - 1)], [ord("h"), ord("w")]))
    found = np.zeros(len(candidate), dtype=bool)
    begin, end = lead_end[candidate], trail_start[candidate]
    for scheme in _URL_STARTS:
        head = np.minimum(begin[:, None] + np.arange(len(scheme)), len(code) - 1)
        found |= (end - begin > len(scheme)) & (code[head] == scheme).all(axis=1)
    return begin[found], end[found]


def _split_infixes(starts_token: np.ndarray, kinds: np.ndarray, code: np.ndarray,
                   inner_marks: np.ndarray, edge: np.ndarray, new_chunk: np.ndarray,
                   dots: np.ndarray) -> None:
    """Mark the tokens that infixes start inside words: a run of hyphens, dashes or
    ``~ : < > = /`` between a letter or digit and a letter (or a hyphen between digits),
    a comma between letters, a dot between a lower and an upper case letter, and a run of
    dots; each is one token, and so is what follows it."""
    at = inner_marks[((kinds[inner_marks] & INFIX) != 0) | (code[inner_marks] == _COMMA)
                     | (code[inner_marks] == _DOT)]
    if not len(at):
        return
    size = len(code)
    run_start = np.ones(len(at), dtype=bool)
    run_start[1:] = (at[1:] != at[:-1] + 1) | new_chunk[at[1:]]
    first = at[run_start]
    last = at[np.append(np.flatnonzero(run_start)[1:], len(at)) - 1]
    before, after = np.maximum(first - 1, 0), np.minimum(last + 1, size - 1)
    inside = (first > 0) & (last + 1 < size) & ~edge[before] & ~edge[after] \
        & ~new_chunk[first] & ~new_chunk[after]
    kind_before, kind_after = kinds[before], kinds[after]
    word_before = (kind_before & PUNCT) == 0
    letter_before, letter_after = (kind_before & ALPHA) != 0, (kind_after & ALPHA) != 0
    digits = ((kind_before & DIGIT) != 0) & ((kind_after & DIGIT) != 0)
    single = first == last
    infix = ((kinds[first] & INFIX) != 0) & (
        (word_before & letter_after) | ((code[first] == ord("-")) & digits))
    comma = (code[first] == _COMMA) & single & letter_before & letter_after
    period = (code[first] == _DOT) & single & letter_before & (
        (kind_before & UPPER) == 0) & ((kind_after & UPPER) != 0)  # "os.PathLike"
    splits = inside & (infix | comma | dots[first] | period)
    starts_token[first[splits]] = True
    starts_token[last[splits] + 1] = True


def _split_endings(starts_token: np.ndarray, code: np.ndarray, lead_end: np.ndarray,
                   trail_start: np.ndarray) -> None:
    """A word's English clitic ending is a token of its own: "it" "'s", "do" "n't",
    "you" "'re" (spaCy splits "'s" after any word, the others after the words of its
    exception table: here after any)."""
    if not len(code):
        return
    top = len(code) - 1
    apostrophe = np.zeros(len(lead_end), dtype=bool)
    for back in (2, 3):
        near = code[np.clip(trail_start - back, 0, top)]
        apostrophe |= (near == _APOSTROPHES[0]) | (near == _APOSTROPHES[1])
    words = np.flatnonzero(apostrophe & (trail_start - lead_end >= 3))
    end, width = trail_start[words], trail_start[words] - lead_end[words]

    def back(n: int) -> np.ndarray:  # the code n characters before each word's end
        return code[np.clip(end - n, 0, top)]

    one = np.isin(back(2), _APOSTROPHES) & np.isin(back(1), _ONE_LETTER_ENDINGS)
    starts_token[(end - 2)[one]] = True
    two = np.isin(back(3), _APOSTROPHES) & np.isin(back(2) * 0x110000 + back(1), _TWO_LETTER)
    negation = np.isin(back(2), _APOSTROPHES) & np.isin(back(1), [ord("t"), ord("T")]) \
        & np.isin(back(3), [ord("n"), ord("N")])
    starts_token[(end - 3)[(width >= 4) & (two | negation)]] = True
