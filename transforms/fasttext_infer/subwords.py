"""Each distinct token's summed input rows, as fastText's ``getLine`` builds them for one
word: the word's own row when it is in the vocabulary, then the rows of the character
n-grams (``minn`` to ``maxn`` code points) of ``<token>`` that the model kept, each found by
the 32-bit FNV-1a hash of its bytes (bytes read as signed, fastText's quirk) modulo the
bucket count. A token that starts with ``__label__`` is a label to fastText and adds
nothing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.fasttext_infer.model import LABEL_PREFIX, FastTextModel
from assay.transforms.string_buffers import string_buffers

FNV_OFFSET = np.uint32(2166136261)
FNV_PRIME = np.uint32(16777619)
# a byte as fastText hashes it: sign-extended from int8 to 32 bits
_SIGNED = np.array([b if b < 0x80 else b | 0xFFFFFF00 for b in range(256)], np.uint32)


def token_rows(model: FastTextModel, tokens: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``tokens`` (large strings): its rows' sum (float64, tokens x dim) and how
    many rows that is (none for the empty string)."""
    width = model.rows.shape[1]
    words = pc.index_in(tokens.cast(pa.large_binary()), value_set=model.words)
    bow, eow, joiner = (pa.scalar(part, pa.large_string()) for part in ("<", ">", ""))
    wrapped = pc.binary_join_element_wise(bow, tokens, eow, joiner)
    _, offsets, data = string_buffers(wrapped)
    owners, rows = ngram_rows(data, offsets, model.minn, model.maxn, model.bucket_rows)
    sums = segment_sums(model.columns, rows, owners, len(tokens))
    counts = np.bincount(owners, minlength=len(tokens)).astype(np.int64)
    known = np.flatnonzero(pc.is_valid(words).to_numpy(zero_copy_only=False))
    if len(known):
        ids = words.take(pa.array(known)).to_numpy().astype(np.int64)
        sums[known] += model.rows[ids]
        counts[known] += 1
    nothing = pc.or_(pc.starts_with(tokens, LABEL_PREFIX.decode()),
                     pc.equal(pc.binary_length(tokens), 0)).to_numpy(zero_copy_only=False)
    sums[nothing], counts[nothing] = np.zeros(width), 0
    return sums, counts


def ngram_rows(data: np.ndarray, offsets: np.ndarray, minn: int, maxn: int,
               bucket_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fastText's ``computeSubwords`` over every string ``data[offsets[i]:offsets[i+1]]``
    (adjacent, all of ``data``): the string of each n-gram whose bucket has a row (a pruned
    model dropped most) and that row (a string's n-grams by length, then start)."""
    begins = np.flatnonzero((data & 0xC0) != 0x80)  # each code point's first byte
    widths = np.diff(begins, append=len(data))  # its bytes: up to the next one's
    owners = np.searchsorted(offsets, begins, side="right") - 1
    first = begins == offsets[owners]
    last = np.append(owners[1:] != owners[:-1], True)  # the string's last code point
    leads = _SIGNED[data[begins]]
    hashes = np.full(len(begins), FNV_OFFSET, np.uint32)  # of the n-gram starting here
    alive = np.ones(len(begins), bool)  # that n-gram still fits its string
    found: list[tuple[np.ndarray, np.ndarray]] = []  # (n-gram's first code point, row)
    for length in range(1, min(maxn, len(begins)) + 1):
        shift = length - 1  # the n-gram at c adds code point c + shift
        end = len(begins) - shift
        if shift:
            alive[end:] = False
            alive[:end] &= owners[shift:] == owners[:end]
        hashes[:end] = (hashes[:end] ^ leads[shift:]) * FNV_PRIME
        for extra in range(1, int(widths.max(initial=1))):  # the rest of a wide one
            wide = np.flatnonzero(widths[shift:] > extra)
            hashes[wide] = (hashes[wide] ^ _SIGNED[data[begins[wide + shift] + extra]]
                            ) * FNV_PRIME
        if length >= minn:
            emit = alive & ~(first | last) if length == 1 else alive
            at = np.flatnonzero(emit)
            rows = bucket_rows[hashes[at] % np.uint32(len(bucket_rows))]
            kept = rows >= 0
            found.append((at[kept], rows[kept]))
    starts = np.concatenate([start for start, _ in found] or [np.zeros(0, np.int64)])
    rows = np.concatenate([row for _, row in found] or [np.zeros(0, np.int32)])
    return owners[starts], rows


def segment_sums(columns: np.ndarray, picks: np.ndarray, segments: np.ndarray, count: int
                 ) -> np.ndarray:
    """``sum(table[picks[k]] for k where segments[k] == s)`` for each segment ``s`` below
    ``count``, ``columns`` being the table's columns (``table.T``, C order: a column's
    values adjacent). Each segment's sum depends on its own picks only, whatever else the
    batch holds; column by column, the gathers stay in cache."""
    sums = np.zeros((count, len(columns)))
    if not len(picks):
        return sums
    if (segments[1:] >= segments[:-1]).all():  # in order: add each run
        firsts = np.flatnonzero(np.diff(segments, prepend=-1))
        for column, values in enumerate(columns):
            sums[segments[firsts], column] = np.add.reduceat(values[picks], firsts)
        return sums
    for column, values in enumerate(columns):
        sums[:, column] = np.bincount(segments, weights=values[picks], minlength=count)
    return sums
