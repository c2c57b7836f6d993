"""MinHash signatures and LSH band keys of documents' n-gram hashes (``shingles``).

The hash family is multiply-shift: ``h_k(x) = ((a_k * x + b_k) mod 2**64) >> 32`` with
``a_k`` odd and ``b_k`` drawn by numpy's seeded ``Generator`` (Dietzfelbinger's universal
family over the shingles' 64-bit hashes), so a signature is plain wrapping uint64 integer
arithmetic that numpy and CuPy compute bit for bit alike: no Mersenne-prime modulus (as
datatrove and datasketch take, which needs 128-bit products) and no library hash (cuDF's
MinHash kernels hash with MurmurHash3 seeds, which numpy does not have). A document's
signature value ``k`` is the minimum of ``h_k`` over its n-grams.

Work is chunked by documents so that one block of ``hashes x n-grams`` products never
exceeds ``_BLOCK`` values (or one document's n-grams), whatever the partition's size or a
document's length. Every block is computed in place in one buffer: a Dask worker runs with
``MALLOC_TRIM_THRESHOLD_=65536``, under which each fresh temporary of a few MiB is a new
``mmap`` whose pages fault in again, which made the signatures ten times slower in a worker
than in a plain process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from assay.transforms import frame as fr
from assay.transforms.key_hash import PRIME, fmix64
from assay.transforms.shingles import Shingles

_BLOCK = 1 << 18  # uint64 values per (hashes x n-grams) block: 2 MiB
_SHIFT = np.uint64(32)


@cache
def hash_family(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` multipliers (odd) and increments of ``h_k``, from ``seed``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 2**64, size=count, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, size=count, dtype=np.uint64, endpoint=False)
    return a, b


def signatures(shingles: Shingles, count: int, seed: int, xp: Any = np) -> Any:
    """The (documents x ``count``) uint32 MinHash signatures of the documents that have
    n-grams (``shingles.counts > 0``), in document order, on ``xp``'s device (numpy or
    CuPy)."""
    counts = shingles.counts
    present = np.flatnonzero(counts > 0)
    out = xp.empty((len(present), count), dtype=xp.uint32)
    if not len(present):
        return out
    hashes = xp.asarray(shingles.hashes)
    a_host, b_host = hash_family(count, seed)
    a, b = xp.asarray(a_host)[:, None], xp.asarray(b_host)[:, None]
    starts = shingles.offsets[present]
    ends = starts + counts[present]
    longest = int((ends - starts).max())
    buffer = xp.empty(max(_BLOCK, longest), dtype=xp.uint64)  # every block's values
    first = 0
    while first < len(present):  # a chunk of whole documents
        last = max(first + 1, int(np.searchsorted(ends, starts[first] + _BLOCK, "right")))
        lo, hi = int(starts[first]), int(ends[last - 1])
        x = hashes[lo:hi][None, :]
        segments = xp.asarray(starts[first:last] - lo)
        rows = max(1, _BLOCK // (hi - lo))  # hash functions per block
        for k in range(0, count, rows):
            values = buffer[:min(rows, count - k) * (hi - lo)].reshape(-1, hi - lo)
            xp.multiply(a[k:k + rows], x, out=values)
            values += b[k:k + rows]
            values >>= _SHIFT
            out[first:last, k:k + rows] = fr.segment_min(values, segments).T
        first = last
    return out


def band_keys(signature: Any, bands: int, rows: int, xp: Any = np) -> Any:
    """The (documents x ``bands``) uint64 bucket key of each band of ``rows`` signature
    values: ``fmix64`` folded over the band number and its values, as the key hash folds
    columns, so equal bands of one band number, and only those (up to 64-bit collisions),
    share a key."""
    keys = xp.empty((signature.shape[0], bands), dtype=xp.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = xp.full(signature.shape[0], band + 1, dtype=xp.uint64)
            for value in signature[:, band * rows:(band + 1) * rows].T:
                h *= PRIME
                h += value.astype(xp.uint64)
                fmix64(h)
            keys[:, band] = h
    return keys
