"""Words of a partition's documents, in one numpy pass over all its code points.

The rules count *words* as datatrove does for English: the tokens of spaCy's blank English
tokenizer. That tokenizer is rule-based Python per document (~1 ms for 2 KB), so this module
reproduces its shape over arrays instead: whitespace separates tokens; a run of punctuation
at either edge of a whitespace chunk is split off one character per token (a run of dots
is one token, "..."); punctuation inside a chunk stays in its word ("U.S", "3.14",
"don't", "f(x"), except the infixes spaCy splits: a hyphen, dash, ``~ : < > = /`` between a
letter or digit and a letter, a comma between letters, and two or more dots.

What spaCy does and this does not: its exception table (``Mr.``, ``e.g.``, ``U.S.`` keep
their final dot; ``don't`` becomes ``do`` + ``n't``), its URL and e-mail matcher, units
after numbers (``5km``), and prefixes it keeps whole (``--flag``). The oracle test in
tests/transforms/test_quality_oracle.py measures what that moves: each rule's decisions
agree with datatrove's on all but a few documents near a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from assay.transforms.quality.chars import (
    ALPHA,
    DIGIT,
    INFIX,
    PREFIX,
    PUNCT,
    SPACE,
    SUFFIX,
    UPPER,
    code_points,
    table,
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
    """The tokens of ``n_docs`` documents, in text order (so grouped by document)."""

    doc: np.ndarray  # int64: the document of each token
    length: np.ndarray  # int64: its characters
    key: np.ndarray  # uint64: a 64-bit hash of its text (equal texts, equal keys)
    word: np.ndarray  # bool: holds a character that is not punctuation (not a "symbol")
    alpha: np.ndarray  # bool: holds a letter
    n_docs: int

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


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads the bits of uint64 values (wrapping arithmetic)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


@cache
def _multipliers(size: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per position in a token (seeded: keys are stable)."""
    drawn = np.random.default_rng(16).integers(0, 2**63, size=size, dtype=np.uint64)
    return drawn * np.uint64(2) + np.uint64(1)


def tokenize(texts: pa.Array) -> Tokens:
    """The tokens of every text of ``texts`` (a null has none)."""
    points, starts = code_points(texts)
    return tokenize_points(points, starts)


def tokenize_points(points: np.ndarray, starts: np.ndarray) -> Tokens:
    """The tokens of code points ``points``, document ``d`` being ``starts[d]:starts[d+1]``.

    Works on the non-space characters only (index ``k``): each whitespace chunk peels a
    prefix (its leading PREFIX characters) and a suffix (its trailing SUFFIX characters,
    a final "." unless the rest is one letter), one token per character but a run of dots
    whole; the middle is one word unless an infix or an "'s"/"n't" ending splits it."""
    bits = table()[points]
    first = np.zeros(len(points) + 1, dtype=bool)  # a document starts here (or ends: size)
    first[starts] = True
    at = np.flatnonzero((bits & SPACE) == 0)
    kinds, code = bits[at], points[at]
    size = len(at)
    index = np.arange(size)
    new_chunk = np.ones(size, dtype=bool)
    new_chunk[1:] = (at[1:] != at[:-1] + 1) | first[at[1:]]
    chunk_first = np.flatnonzero(new_chunk)
    chunk_end = np.append(chunk_first[1:], size)
    word_char = (kinds & PUNCT) == 0
    letter = (kinds & ALPHA) != 0

    dot = code == _DOT
    repeat = np.zeros(size, dtype=bool)  # the same character as the previous one
    repeat[1:] = (code[1:] == code[:-1]) & ~new_chunk[1:]
    follows = np.zeros(size, dtype=bool)
    follows[:-1] = repeat[1:]
    # a run of two or more dots ("...") or straight quotes ("''") is one token
    dots = (dot | (code == _QUOTE)) & (repeat | follows)
    after_dot = dots & repeat
    lead_end, trail_start, edge = _peel(kinds, code, dot, dots, chunk_first, chunk_end,
                                        letter)
    starts_token = new_chunk | (edge & ~(dots & after_dot))
    starts_token[lead_end[lead_end < trail_start]] = True  # the middle's first character
    url = _ranges(*_urls(code, lead_end, trail_start), size)  # spaCy keeps a URL whole
    _split_infixes(starts_token, kinds, code, edge | url, new_chunk, word_char, letter, dots)
    _split_endings(starts_token, code, lead_end, trail_start)

    token = np.cumsum(starts_token, dtype=np.int64) - 1
    n_tokens = int(token[-1]) + 1 if size else 0
    length = np.bincount(token, minlength=n_tokens)
    offset = np.flatnonzero(starts_token)
    position = index - offset[token]
    weighted = (code.astype(np.uint64) + np.uint64(1)) * _multipliers(
        max(64, 1 << int(length.max(initial=1) - 1).bit_length()))[position]
    key = mix(np.add.reduceat(weighted, offset)) if n_tokens else np.zeros(0, np.uint64)
    return Tokens(
        doc=np.searchsorted(starts, at[offset], side="right") - 1,
        length=length,
        key=key,
        word=np.bincount(token, weights=word_char, minlength=n_tokens) > 0,
        alpha=np.bincount(token, weights=letter, minlength=n_tokens) > 0,
        n_docs=len(starts) - 1,
    )


def _peel(kinds: np.ndarray, code: np.ndarray, dot: np.ndarray, dots: np.ndarray,
          chunk_first: np.ndarray, chunk_end: np.ndarray, letter: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each chunk's middle starts and ends, and which characters were peeled off
    its edges: leading PREFIX characters, then trailing SUFFIX characters and dots, but
    a final single dot stays after one letter or a dotted abbreviation ("A.", "e.g.").
    Loops only over the chunks still peeling (edges are a few characters long)."""
    size = len(code)
    prefix = ((kinds & PREFIX) != 0) | dots
    suffix = ((kinds & SUFFIX) != 0) | dot
    lead_end = chunk_first.copy()
    peeling = np.flatnonzero(prefix[chunk_first]) if size else chunk_first
    while len(peeling):
        lead_end[peeling] += 1
        peeling = peeling[lead_end[peeling] < chunk_end[peeling]]
        peeling = peeling[prefix[lead_end[peeling]]]
    trail_start = chunk_end.copy()
    peeling = np.flatnonzero((chunk_end > lead_end) & suffix[np.maximum(chunk_end - 1, 0)]) \
        if size else chunk_first
    while len(peeling):
        trail_start[peeling] -= 1
        peeling = peeling[trail_start[peeling] > lead_end[peeling]]
        peeling = peeling[suffix[trail_start[peeling] - 1]]
    single_dot = np.flatnonzero(trail_start < chunk_end)
    single_dot = single_dot[(code[trail_start[single_dot]] == _DOT)
                            & ~dots[trail_start[single_dot]]]
    start, stop = lead_end[single_dot], trail_start[single_dot]
    last = np.maximum(stop - 1, 0)
    one_letter = (stop - start == 1) & letter[last]
    dotted = (stop - start >= 3) & letter[last] & (code[np.maximum(stop - 2, 0)] == _DOT)
    trail_start[single_dot[one_letter | dotted]] += 1
    edge = _ranges(chunk_first, lead_end, size) | _ranges(trail_start, chunk_end, size)
    return lead_end, trail_start, edge


def _ranges(begin: np.ndarray, end: np.ndarray, size: int) -> np.ndarray:
    """A mask of ``size`` holding every ``begin[i]:end[i]``."""
    mask = np.zeros(size, dtype=bool)
    wide = np.flatnonzero(end > begin)
    begin, end = begin[wide], end[wide]
    lengths = end - begin
    offsets = np.cumsum(lengths) - lengths
    mask[np.arange(int(lengths.sum())) - np.repeat(offsets - begin, lengths)] = True
    return mask


def _urls(code: np.ndarray, lead_end: np.ndarray, trail_start: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """The middles (begin, end) that start with "http://", "https://" or "www."."""
    candidate = np.flatnonzero((trail_start - lead_end > 4) & np.isin(
        code[np.minimum(lead_end, max(len(code) - 1, 0))], [ord("h"), ord("w")])) \
        if len(code) else lead_end
    found = np.zeros(len(candidate), dtype=bool)
    begin, end = lead_end[candidate], trail_start[candidate]
    for scheme in _URL_STARTS:
        head = np.minimum(begin[:, None] + np.arange(len(scheme)), len(code) - 1)
        found |= (end - begin > len(scheme)) & (code[head] == scheme).all(axis=1)
    return begin[found], end[found]


def _split_infixes(starts_token: np.ndarray, kinds: np.ndarray, code: np.ndarray,
                   edge: np.ndarray, new_chunk: np.ndarray, word_char: np.ndarray,
                   letter: np.ndarray, dots: np.ndarray) -> None:
    """Mark the tokens that infixes start inside words: a run of hyphens, dashes or
    ``~ : < > = /`` between a letter or digit and a letter (or a hyphen between digits),
    a comma between letters, a dot between a lower and an upper case letter, and a run of
    dots; each is one token, and so is what follows it."""
    size = len(code)
    inner = ~edge
    candidate = inner & (((kinds & INFIX) != 0) | (code == _COMMA) | (code == _DOT))
    at = np.flatnonzero(candidate)
    if not len(at):
        return
    run_start = np.ones(len(at), dtype=bool)
    run_start[1:] = (at[1:] != at[:-1] + 1) | new_chunk[at[1:]]
    first = at[run_start]
    last = at[np.append(np.flatnonzero(run_start)[1:], len(at)) - 1]
    before = np.maximum(first - 1, 0)
    after = np.minimum(last + 1, size - 1)
    inside = (first > 0) & (last + 1 < size) & inner[before] & inner[after] & ~new_chunk[
        first] & ~new_chunk[np.minimum(last + 1, size - 1)]
    digit = (kinds & DIGIT) != 0
    hyphen = code[first] == ord("-")
    comma = (code[first] == _COMMA) & (first == last)
    infix = ((kinds[first] & INFIX) != 0) & (
        (word_char[before] & letter[after]) | (hyphen & digit[before] & digit[after]))
    upper = (kinds & UPPER) != 0
    period = (code[first] == _DOT) & (first == last) & letter[before] & ~upper[before] \
        & upper[after]  # "os.PathLike"
    splits = inside & (infix | (comma & letter[before] & letter[after]) | dots[first]
                       | period)
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


def token_keys(words: list[str]) -> np.ndarray:
    """The keys of ``words`` as tokens (a word that is not one token gets no key)."""
    tokens = tokenize(pa.array(words, pa.large_string()))
    single = tokens.count() == 1
    return tokens.key[np.isin(tokens.doc, np.flatnonzero(single))]
