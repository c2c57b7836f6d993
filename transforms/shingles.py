"""Word and character n-gram hashes of a text column: what near-duplicate detection
(``near_dedup``) and benchmark decontamination compare documents by.

Defined here on the text itself, like the key hash (``assay.transforms.key_hash``), so every
backend and library version computes the same 64-bit hashes, and computed with numpy over
the column's Arrow buffers, with no loop over documents:

- text is lowercased (Unicode, Arrow's ``utf8_lower``: no final-sigma rule);
- **words** are the runs of ``_`` and of characters ``str.isalnum`` accepts; a word's
  token is the key hash's word for the string (``span_words`` over its UTF-8 bytes);
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

from assay.transforms.key_hash import PRIME, fmix64, span_words

Unit = Literal["word", "char"]
_BMP = 0x10000


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
    """A lowercased column's UTF-8 bytes, decoded: each code point's first byte and value,
    and each document's first code point (ASCII text is its own decoding)."""

    data: np.ndarray  # uint8
    starts: np.ndarray | None  # int64, one more than the code points; None: ASCII
    points: np.ndarray  # int32; uint8 for ASCII text (each byte its own code point)
    documents: np.ndarray  # int64, one more than the documents


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
    texts, _, raw = _buffers(pc.fill_null(texts.cast(pa.large_string()), ""))
    ascii_only = not (raw >= 0x80).any()
    _, offsets, data = _buffers((pc.ascii_lower if ascii_only else pc.utf8_lower)(texts))
    if ascii_only:
        return _Text(data, None, data, offsets)
    first = np.flatnonzero((data & 0xC0) != 0x80)  # a byte that is not a continuation
    starts = np.append(first, len(data)).astype(np.int64)
    return _Text(data, starts, _code_points(data, first), np.searchsorted(starts, offsets))


def _buffers(texts: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A large string array without nulls, rebuilt (without a copy) so its offsets start
    at 0 (Arrow's string kernels write data from the first offset on), with its offsets and
    data."""
    _, offset_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offset_buffer, np.int64)[texts.offset:texts.offset + len(texts) + 1]
    first = int(offsets[0])
    if first or texts.offset:
        offsets = offsets - first
        data_buffer = data_buffer.slice(first, int(offsets[-1])) if data_buffer else None
        texts = pa.Array.from_buffers(pa.large_string(), len(texts),
                                      [None, pa.py_buffer(offsets), data_buffer])
    data = (np.frombuffer(data_buffer, np.uint8)[:offsets[-1]] if data_buffer is not None
            else np.zeros(0, np.uint8))
    return texts, offsets, data


def _code_points(data: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The code point starting at each of the ``first`` bytes of valid UTF-8 ``data``
    (only the characters beyond ASCII read their continuation bytes)."""
    points = data[first].astype(np.int32)
    wide = np.flatnonzero(points >= 0xC0)
    lead = points[wide]
    for low, high, mask, more in ((0xC0, 0xE0, 0x1F, 1), (0xE0, 0xF0, 0x0F, 2),
                                  (0xF0, 0x100, 0x07, 3)):
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


def _boundaries(text: _Text) -> np.ndarray:
    """True at each code point that starts a document."""
    marks = np.zeros(len(text.points) + 1, dtype=bool)
    marks[text.documents] = True
    return marks


def _words(text: _Text) -> tuple[np.ndarray, np.ndarray]:
    """Each word's token, and each document's offset into them."""
    word = _classify(text.points, 0)
    new_document = _boundaries(text)
    before = np.concatenate([[False], word[:-1]]) & ~new_document[:-1]
    after = np.concatenate([word[1:], [False]]) & ~new_document[1:]
    begins = np.flatnonzero(word & ~before)
    ends = np.flatnonzero(word & ~after) + 1
    offsets = np.searchsorted(begins, text.documents).astype(np.int64)
    if text.starts is not None:  # code points to bytes
        begins, ends = text.starts[begins], text.starts[ends]
    return span_words(text.data, begins, ends), offsets


def _characters(text: _Text) -> tuple[np.ndarray, np.ndarray]:
    """Each character's token after whitespace is collapsed and stripped, and each
    document's offset into them."""
    space = _classify(text.points, 1)
    new_document = _boundaries(text)
    count = len(text.points)
    seen = np.where(~space, np.arange(count), -1)  # the last non-space so far
    np.maximum.accumulate(seen, out=seen)
    document_start = np.repeat(text.documents[:-1], np.diff(text.documents))
    led = seen >= document_start  # a non-space came before, in this document
    next_space = np.concatenate([space[1:], [False]])
    last_of_run = space & ~(next_space & ~new_document[1:])
    ends_document = new_document[1:]
    kept = ~space | (last_of_run & led & ~ends_document)
    points = np.where(space, ord(" "), text.points)[kept].astype(np.uint64)
    offsets = np.zeros(len(text.documents), dtype=np.int64)
    np.cumsum(np.bincount(np.searchsorted(text.documents, np.flatnonzero(kept), "right") - 1,
                          minlength=len(text.documents) - 1), out=offsets[1:])
    return fmix64(points), offsets


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
