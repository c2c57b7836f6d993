"""Word and character n-gram hashes of a text column: what near-duplicate detection
(``near_dedup``) and benchmark decontamination compare documents by.

Defined here on the text itself, like the key hash (``assay.transforms.key_hash``), so every
backend and library version computes the same 64-bit hashes, and computed with numpy over
the column's Arrow buffers, with no loop over documents:

- text is lowercased (Unicode, Arrow's ``utf8_lower``: no final-sigma rule);
- **words** are the runs of ``_`` and of characters ``str.isalnum`` accepts; a word of
  ``L`` UTF-8 bytes is read as little-endian 64-bit pieces ``p_j`` (bytes ``8j..8j+7``,
  zeros past its end) and its token is
  ``fmix64(L * LENGTH_PRIME + sum_j fmix64(p_j ^ (j + 1) * PRIME))`` (``word_tokens``:
  a handful of operations per word, where the key hash's string word takes several per
  byte);
- **characters**: whitespace runs (``str.isspace``) become one space and the ends are
  stripped; a character's token is ``fmix64`` of its Unicode code point;
- an n-gram's hash is ``fmix64(t[0] * PRIME**(n-1) + ... + t[n-1])`` over its ``n`` tokens,
  mod 2**64. A document with fewer than ``n`` (but some) tokens has one n-gram of all of
  them; a null or empty one has none.

Exact Jaccard similarity of two documents' n-gram sets is then the Jaccard of their hash
sets, up to 64-bit collisions (about one in 10**19 per pair of n-grams).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.key_hash import LENGTH_PRIME, PRIME, fmix64
from assay.transforms.string_buffers import string_buffers

Unit = Literal["word", "char"]
_BMP = 0x10000
# UTF-8 lead bytes: [low, high), the bits of the code point they hold, continuation bytes
_SEQUENCES = ((0xC0, 0xE0, 0x1F, 1), (0xE0, 0xF0, 0x0F, 2), (0xF0, 0x100, 0x07, 3))
_ALL = np.uint64(2**64 - 1)  # a piece's mask before the bytes past a word are cut


@dataclass(frozen=True)
class Shingles:
    """All documents' n-gram hashes, document after document: document ``i`` has
    ``hashes[offsets[i]:offsets[i + 1]]`` (repeats kept; ``np.unique`` per document
    gives its set)."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, one more than the documents

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def documents(self) -> np.ndarray:
        """The document of each hash (its row in the column)."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.counts)


@dataclass(frozen=True)
class _Text:
    """A lowercased column's UTF-8 bytes and each document's first byte (one more than the
    documents)."""

    data: np.ndarray  # uint8
    documents: np.ndarray  # int64
    ascii_only: bool


def shingle_hashes(texts: pa.Array | pa.ChunkedArray, unit: Unit, n: int) -> Shingles:
    """The n-gram hashes of each document of ``texts`` (strings; nulls have none)."""
    if n < 1:
        raise ValueError(f"n-grams need n >= 1, got {n}")
    text = _decode(texts)
    tokens, offsets = _words(text) if unit == "word" else _characters(text)
    return _ngrams(tokens, offsets, n)


def _decode(texts: pa.Array | pa.ChunkedArray) -> _Text:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    texts, _, raw = string_buffers(pc.fill_null(texts.cast(pa.large_string()), ""))
    ascii_only = not (raw >= 0x80).any()
    _, offsets, data = string_buffers((pc.ascii_lower if ascii_only else pc.utf8_lower)(texts))
    return _Text(data, offsets, ascii_only)


def _code_points(data: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The code point starting at each of the ``first`` bytes of valid UTF-8 ``data``
    (only the characters beyond ASCII read their continuation bytes)."""
    points = data[first].astype(np.int32)
    wide = np.flatnonzero(points >= 0xC0)
    lead = points[wide]
    for low, high, mask, more in _SEQUENCES:
        group = (lead >= low) & (lead < high)
        at, value = wide[group], lead[group] & mask
        for k in range(1, more + 1):
            value = (value << 6) | (data[first[at] + k] & 0x3F).astype(np.int32)
        points[at] = value
    return points


@cache
def _classes() -> tuple[np.ndarray, np.ndarray]:
    """For every code point of the Basic Multilingual Plane: is it a word character
    (``_`` or ``str.isalnum``), and is it whitespace (``str.isspace``)."""
    chars = [chr(p) for p in range(_BMP)]
    word = np.array([c == "_" or c.isalnum() for c in chars])
    space = np.array([c.isspace() for c in chars])
    return word, space


def _classify(points: np.ndarray, table: int) -> np.ndarray:
    """The BMP table's answer for each code point; the few beyond it are asked singly."""
    if points.dtype == np.uint8:
        return _classes()[table][:256][points]
    answer = _classes()[table][np.minimum(points, _BMP - 1)]
    beyond = points >= _BMP
    if beyond.any():
        test = (lambda c: c == "_" or c.isalnum()) if table == 0 else str.isspace
        values = np.unique(points[beyond])
        known = np.array([test(chr(int(p))) for p in values])
        answer[beyond] = known[np.searchsorted(values, points[beyond])]
    return answer


def _word_bytes(text: _Text) -> np.ndarray:
    """True at each byte of a word character: ASCII bytes by comparisons (``_ascii_word``),
    every byte of a wider character by its code point (only those are decoded)."""
    word = _ascii_word(text.data)
    if text.ascii_only:
        return word
    leads = np.flatnonzero(text.data >= 0xC0)
    answer = _classify(_code_points(text.data, leads), 0)
    width = 2 + (text.data[leads] >= 0xE0) + (text.data[leads] >= 0xF0)
    for k in range(4):
        wide = width > k
        word[leads[wide] + k] = answer[wide]
    return word


def _ascii_word(data: np.ndarray) -> np.ndarray:
    """True at each ASCII letter, digit and ``_`` (bytes of wider characters: False), by
    comparisons in wrapping uint8 arithmetic (a third of a table lookup's time)."""
    letter = data | np.uint8(0x20)
    letter -= np.uint8(ord("a"))
    word = letter < 26
    digit = data - np.uint8(ord("0"))
    word |= digit < 10
    word |= data == ord("_")
    return word


def word_tokens(data: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The token of each word ``data[begins[i]:ends[i]]`` (non-empty spans), from its
    64-bit pieces (see the module's docstring), read as unaligned 8-byte windows: every
    word's first piece at once, then the further pieces of the words longer than 8 bytes."""
    lengths = ends - begins
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[:len(data)] = data
    windows = np.ndarray((len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    with np.errstate(over="ignore"):
        sums = _mixed_pieces(windows, begins, lengths, np.zeros(len(begins), np.int64))
        longer = np.flatnonzero(lengths > 8)
        if len(longer):
            more = (lengths[longer] - 1) >> 3  # pieces after the first
            firsts = np.cumsum(more) - more
            word = np.repeat(longer, more)
            j = np.arange(1, len(word) + 1) - np.repeat(firsts, more)
            sums[longer] += np.add.reduceat(
                _mixed_pieces(windows, begins[word], lengths[word], j), firsts)
        sums += lengths.astype(np.uint64) * LENGTH_PRIME
    return fmix64(sums)


def _mixed_pieces(windows: np.ndarray, begins: np.ndarray, lengths: np.ndarray,
                  j: np.ndarray) -> np.ndarray:
    """``fmix64(p_j ^ (j + 1) * PRIME)`` of piece ``j`` of each word."""
    values = windows[begins + 8 * j]
    values &= _ALL >> (np.uint64(64) - 8 * np.minimum(lengths - 8 * j, 8).astype(np.uint64))
    values ^= (j + 1).astype(np.uint64) * PRIME
    return fmix64(values)


def _words(text: _Text) -> tuple[np.ndarray, np.ndarray]:
    """Each word's token, and each document's offset into them: a word is a run of word
    bytes (every other run boundary of a padded run mask), cut where a document starts."""
    word = _word_bytes(text)
    padded = np.zeros(len(word) + 2, dtype=bool)
    padded[1:-1] = word
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    begins, ends = edges[0::2], edges[1::2]
    inner = text.documents[(text.documents > 0) & (text.documents < len(word))]
    cuts = np.unique(inner[word[inner - 1] & word[inner]])  # a word across two documents
    if len(cuts):
        begins = np.insert(begins, np.searchsorted(begins, cuts), cuts)
        ends = np.insert(ends, np.searchsorted(ends, cuts), cuts)
    offsets = np.searchsorted(begins, text.documents).astype(np.int64)
    return word_tokens(text.data, begins, ends), offsets


def _characters(text: _Text) -> tuple[np.ndarray, np.ndarray]:
    """Each character's token after whitespace is collapsed and stripped, and each
    document's offset into them."""
    if text.ascii_only:
        points, documents = text.data, text.documents
    else:
        first = np.flatnonzero((text.data & 0xC0) != 0x80)  # a byte that is not a continuation
        points = _code_points(text.data, first)
        documents = np.searchsorted(first, text.documents)
    space = _classify(points, 1)
    new_document = np.zeros(len(points) + 1, dtype=bool)
    new_document[documents] = True
    count = len(points)
    seen = np.where(~space, np.arange(count), -1)  # the last non-space so far
    np.maximum.accumulate(seen, out=seen)
    document_start = np.repeat(documents[:-1], np.diff(documents))
    led = seen >= document_start  # a non-space came before, in this document
    next_space = np.concatenate([space[1:], [False]])
    last_of_run = space & ~(next_space & ~new_document[1:])
    ends_document = new_document[1:]
    kept = ~space | (last_of_run & led & ~ends_document)
    tokens = np.where(space, ord(" "), points)[kept].astype(np.uint64)
    offsets = np.zeros(len(documents), dtype=np.int64)
    np.cumsum(np.bincount(np.searchsorted(documents, np.flatnonzero(kept), "right") - 1,
                          minlength=len(documents) - 1), out=offsets[1:])
    return fmix64(tokens), offsets


def _ngrams(tokens: np.ndarray, token_offsets: np.ndarray, n: int) -> Shingles:
    """The n-grams' hashes: every window of ``n`` tokens inside one document, or the whole
    document where it holds fewer."""
    counts = np.diff(token_offsets)
    grams = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(grams, out=offsets[1:])
    windows = np.zeros(max(len(tokens) - n + 1, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):  # every window of n tokens, across documents too
            windows *= PRIME
            windows += tokens[k:k + len(windows)]
    full = counts >= n
    before = np.cumsum(grams[full]) - grams[full]  # each full document's first window
    starts = np.repeat(token_offsets[:-1][full] - before, grams[full])
    starts += np.arange(len(starts))
    hashes = np.empty(offsets[-1], dtype=np.uint64)
    hashes[np.repeat(full, grams)] = windows[starts]
    short = np.flatnonzero(~full & (counts > 0))
    hashes[offsets[short]] = _whole(tokens, token_offsets[short], counts[short])
    return Shingles(fmix64(hashes), offsets)


def _whole(tokens: np.ndarray, firsts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The one n-gram of each document shorter than ``n`` tokens (its ``counts`` tokens
    from ``firsts``)."""
    h = np.zeros(len(firsts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(int(counts.max()) if len(counts) else 0):
            inside = k < counts
            h[inside] = h[inside] * PRIME + tokens[firsts[inside] + k]
    return h
