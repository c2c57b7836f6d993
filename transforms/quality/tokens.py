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
    chunk = np.cumsum(new_chunk, dtype=np.int64) - 1
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
    lead_end = _first_where(~(((kinds & PREFIX) != 0) | dots), chunk_first, chunk_end)
    trail_start = np.maximum(_last_where(~(((kinds & SUFFIX) != 0) | dot), chunk_first,
                                         chunk_end) + 1, lead_end)
    edge_dot = trail_start < chunk_end
    edge_dot[edge_dot] = (code[trail_start[edge_dot]] == _DOT) & ~dots[trail_start[edge_dot]]
    width = trail_start - lead_end
    last = np.clip(trail_start - 1, 0, max(size - 1, 0))
    one_letter = (width == 1) & letter[last]
    dotted = (width >= 3) & letter[last] & (code[np.clip(trail_start - 2, 0, None)] == _DOT) \
        if size else one_letter
    trail_start += edge_dot & (one_letter | dotted)  # "A.", "x.", "e.g.", "U.S." keep it
    edge = (index < lead_end[chunk]) | (index >= trail_start[chunk])

    starts_token = new_chunk | (edge & ~(dots & after_dot))
    middle_first = lead_end[lead_end < trail_start]
    starts_token[middle_first] = True
    url = _urls(code, lead_end, trail_start)[chunk]  # spaCy keeps a URL whole
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


def _urls(code: np.ndarray, lead_end: np.ndarray, trail_start: np.ndarray) -> np.ndarray:
    """Which chunks' middles start with "http://", "https://" or "www."."""
    found = np.zeros(len(lead_end), dtype=bool)
    for scheme in _URL_STARTS:
        fits = trail_start - lead_end > len(scheme)
        head = np.minimum(lead_end[:, None] + np.arange(len(scheme)), len(code) - 1)
        found |= fits & (code[head] == scheme).all(axis=1) if len(code) else fits
    return found


def _first_where(mask: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per segment ``first[i]:end[i]``, the first index where ``mask`` holds (else end)."""
    if not len(first):
        return first
    found = np.minimum.reduceat(np.where(mask, np.arange(len(mask)), len(mask)), first)
    return np.minimum(found, end)


def _last_where(mask: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per segment, the last index where ``mask`` holds (else first - 1)."""
    if not len(first):
        return first
    found = np.maximum.reduceat(np.where(mask, np.arange(len(mask)), -1), first)
    return np.maximum(found, first - 1)


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
    width = trail_start - lead_end
    top = max(len(code) - 1, 0)

    def back(n: int) -> np.ndarray:  # the code n characters before each word's end
        return code[np.clip(trail_start - n, 0, top)]

    one = np.isin(back(2), _APOSTROPHES) & np.isin(back(1), _ONE_LETTER_ENDINGS)
    starts_token[(trail_start - 2)[(width >= 3) & one]] = True
    two = np.isin(back(3), _APOSTROPHES) & np.isin(back(2) * 0x110000 + back(1), _TWO_LETTER)
    starts_token[(trail_start - 3)[(width >= 4) & two]] = True
    negation = np.isin(back(2), _APOSTROPHES) & np.isin(back(1), [ord("t"), ord("T")]) \
        & np.isin(back(3), [ord("n"), ord("N")])
    starts_token[(trail_start - 3)[(width >= 4) & negation]] = True


def token_keys(words: list[str]) -> np.ndarray:
    """The keys of ``words`` as tokens (a word that is not one token gets no key)."""
    tokens = tokenize(pa.array(words, pa.large_string()))
    single = tokens.count() == 1
    return tokens.key[np.isin(tokens.doc, np.flatnonzero(single))]
