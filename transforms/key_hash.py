"""The key hash a dataset-wide dedup stores in its index (``KEY_HASH_VERSION``).

Stored, so it is defined here on the values themselves, not borrowed from a library whose
hash may change between releases (pandas' and Polars' make no promise; Arrow exposes none),
and computed with numpy over each column's Arrow buffers, so it is the same for any backend
or library version that hands over the same values. Per column, a row's word is:

- null (and NaN): ``NULL_WORD``;
- integers and booleans: the value as a two's complement int64;
- floats: the float64 bits, -0.0 as 0.0;
- timestamps and dates: nanoseconds since the epoch as an int64 (wrapping past year 2262);
- strings and binary: ``fmix64(sum(byte[k] * PRIME**k) ^ length * LENGTH_PRIME)`` over the
  UTF-8 bytes, mod 2**64 (a polynomial hash: a prefix sum over the column's whole data
  buffer gives every string's at once, with no loop over rows).

A row's hash folds its columns' words in key order: ``h = fmix64(h * PRIME + word)`` from
``h = 0`` (``fmix64``: MurmurHash3's 64-bit finalizer, so every bit of the result, and so
the index bucket ``h % 256``, depends on every input bit). Equal keys hash equal; distinct
keys may collide, which only costs a comparison: the index compares key values.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEY_HASH_VERSION = 2  # 1: pandas' hash_pandas_object (the index's parts before this module)

PRIME = np.uint64(0x9E3779B97F4A7C15)
LENGTH_PRIME = np.uint64(0xC2B2AE3D27D4EB4F)
NULL_WORD = np.uint64(0x6A09E667F3BCC909)
_CHUNK_BYTES = 1 << 16  # a string chunk's prefix sums stay in cache
_NANOS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_DAY_NANOS = 86_400 * 1_000_000_000


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer (in place on ``h``, which it returns)."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def row_hashes(columns: dict[str, pa.Array | pa.ChunkedArray], rows: int) -> np.ndarray:
    """The hash of each of ``rows`` rows over ``columns`` (by name, in key order), as
    uint64; a column of a type the table above has no word for is a TypeError naming it."""
    h = np.zeros(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name, column in columns.items():
            try:
                words = column_words(column)
            except TypeError as exc:
                raise TypeError(f"column {name!r}: {exc}") from exc
            h *= PRIME
            h += words
            fmix64(h)
    return h


def column_words(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's word (the module's table), as uint64."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if pa.types.is_dictionary(kind):
        return column_words(column.dictionary_decode())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(
            kind) or pa.types.is_large_binary(kind):
        words = _string_words(column)
    elif pa.types.is_null(kind):
        return np.full(len(column), NULL_WORD, dtype=np.uint64)
    else:
        words = _number_words(column)
    if column.null_count:
        words[column.is_null(nan_is_null=True).to_numpy(zero_copy_only=False)] = NULL_WORD
    elif pa.types.is_floating(kind):
        words[np.isnan(column.to_numpy(zero_copy_only=False))] = NULL_WORD
    return words


def _number_words(column: pa.Array) -> np.ndarray:
    kind = column.type
    if column.null_count:  # the null rows' words are replaced by the caller
        column = pc.fill_null(column, pa.scalar(not pa.types.is_boolean(kind) and 0, kind))
    values = column
    if pa.types.is_floating(kind):
        floats = values.to_numpy(zero_copy_only=False).astype(np.float64)
        return (floats + 0.0).view(np.uint64).copy()  # x + 0.0 turns -0.0 into 0.0
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        scale = (_DAY_NANOS if kind == pa.date32() else _NANOS["ms"] if kind == pa.date64()
                 else _NANOS[kind.unit])
        ints = values.view(pa.int32() if kind == pa.date32() else pa.int64())
        return ints.to_numpy().astype(np.int64).view(np.uint64) * np.uint64(scale)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        ints = values.to_numpy(zero_copy_only=False)
        return ints.astype(np.int64).view(np.uint64).copy()
    raise TypeError(f"no stable key hash for a column of type {kind}")


@cache
def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``PRIME**k`` and its inverse mod 2**64 (PRIME is odd) for k in 0..size (a power of
    two, so few sizes are ever cached)."""
    inverse = PRIME
    with np.errstate(over="ignore"):
        for _ in range(6):  # Newton's iteration: each doubles the correct low bits
            inverse = inverse * (np.uint64(2) - PRIME * inverse)
        up = np.full(size + 1, PRIME, dtype=np.uint64)
        down = np.full(size + 1, inverse, dtype=np.uint64)
        up[0] = down[0] = 1
        return np.multiply.accumulate(up), np.multiply.accumulate(down)


def _string_words(column: pa.Array) -> np.ndarray:
    """Each string's word (see ``span_words``)."""
    rows = len(column)
    offsets_type = np.int64 if column.type in (pa.large_string(), pa.large_binary()) else np.int32
    _, offset_buffer, data_buffer = column.buffers()
    offsets = np.frombuffer(offset_buffer, offsets_type)[column.offset:column.offset + rows + 1]
    data = (np.frombuffer(data_buffer, np.uint8) if data_buffer is not None
            else np.zeros(0, np.uint8))
    offsets = offsets.astype(np.int64)
    return span_words(data, offsets[:-1], offsets[1:])


def span_words(data: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The string word of each byte span ``data[begins[i]:ends[i]]`` (ascending, not
    overlapping; gaps allowed), from prefix sums over chunks of whole spans."""
    rows = len(begins)
    lengths = ends - begins
    words = np.empty(rows, dtype=np.uint64)
    longest = int(lengths.max()) if rows else 0
    up, down = _powers(1 << max(_CHUNK_BYTES, longest).bit_length())
    with np.errstate(over="ignore"):
        start = 0
        while start < rows:  # chunk ends: the last span starting within the chunk
            limit = begins[start] + max(_CHUNK_BYTES, int(lengths[start]))
            stop = max(start + 1, int(np.searchsorted(begins, limit, side="right")) - 1)
            if stop == rows - 1 and ends[stop] <= limit:
                stop = rows
            base = begins[start]
            size = int(ends[stop - 1] - base)
            sums = np.zeros(size + 1, dtype=np.uint64)
            np.multiply(data[base:base + size], up[:size], out=sums[1:])
            np.cumsum(sums[1:], out=sums[1:])
            begin, end = begins[start:stop] - base, ends[start:stop] - base
            words[start:stop] = (sums[end] - sums[begin]) * down[begin]
            start = stop
        words ^= lengths.astype(np.uint64) * LENGTH_PRIME
    return fmix64(words)
