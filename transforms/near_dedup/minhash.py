"""MinHash signatures and LSH band keys of documents' n-gram hashes (``shingles``).

A signature is computed by one-permutation hashing with optimal densification
(Li, Owen and Zhang 2012; Shrivastava 2017): each n-gram is hashed once, not once per
signature value.

- Every n-gram hash ``x`` is mixed with the seed, ``h = fmix64(x ^ fmix64(seed))`` (a
  bijection of 64-bit values, so distinct n-grams stay distinct). Its high 32 bits pick one
  of the ``count`` bins (``(h >> 32) * count >> 32``), its low 32 bits are its value.
- A document's signature value ``k`` is the smallest value among its n-grams in bin ``k``.
- A bin no n-gram of the document fell into takes the value of the first *non-empty* bin
  along a probe sequence that belongs to the bin, not the document (``probes``: random
  bins drawn from ``seed``), the same in every document.

Two documents then agree on a value with probability equal to the Jaccard similarity of
their n-gram sets, as with ``count`` independent hash functions, at the cost of one hash per
n-gram instead of ``count``; on the 50,000-document benchmark that took the signatures from
about a quarter of ``near_dedup``'s CPU time to a few percent (``benchmarks/RESULTS.md``).

Everything is wrapping uint64 integer arithmetic, a scatter-minimum (``fr.scatter_min``) and
gathers, which numpy and CuPy compute bit for bit alike; no library hash (cuDF's MinHash
kernels hash with MurmurHash3 seeds, which numpy does not have).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from assay.transforms import frame as fr
from assay.transforms.key_hash import PRIME, fmix64
from assay.transforms.shingles import Shingles

PROBES = 32  # probes of a probe block: one gather per block for every bin still empty
_LOW = np.uint64(0xFFFFFFFF)
_HIGH = np.uint64(32)


@lru_cache(maxsize=1024)
def seed_word(seed: int) -> np.uint64:
    """The 64-bit word the n-gram hashes are mixed with."""
    return fmix64(np.array([seed], dtype=np.uint64))[0]


@lru_cache(maxsize=64)
def probes(count: int, seed: int, block: int) -> np.ndarray:
    """Probe block ``block`` of every bin: (``count`` x ``PROBES``) random bins, the same for
    every document (blocks are drawn one by one, as a document with few n-grams needs)."""
    rng = np.random.Generator(np.random.PCG64([seed, count, block]))
    return rng.integers(0, count, size=(count, PROBES), dtype=np.int64)


def signatures(shingles: Shingles, count: int, seed: int, xp: Any = np) -> Any:
    """The (documents x ``count``) uint32 MinHash signatures of the documents that have
    n-grams (``shingles.counts > 0``), in document order, on ``xp``'s device (numpy or
    CuPy)."""
    counts = shingles.counts
    present = np.flatnonzero(counts > 0)
    cells = len(present) * count
    h = fmix64(xp.asarray(shingles.hashes) ^ seed_word(seed))
    bins = ((h >> _HIGH) * np.uint64(count)) >> _HIGH
    firsts = xp.asarray(np.repeat(np.arange(len(present), dtype=np.int64) * count,
                                  counts[present]))
    cell = firsts + bins.astype(xp.int64)  # each n-gram's (document, bin), flat
    values = xp.full(cells, np.iinfo(np.uint32).max, dtype=xp.uint32)
    fr.scatter_min(values, cell, (h & _LOW).astype(xp.uint32))
    filled = xp.zeros(cells, dtype=bool)
    filled[cell] = True
    _densify(values, filled, count, seed, xp)
    return values.reshape(len(present), count)


def _densify(values: Any, filled: Any, count: int, seed: int, xp: Any) -> None:
    """Give every empty bin the value of the first filled bin along its probe sequence, in
    place (only bins filled by n-grams are sources, so the order of filling is free)."""
    empty = xp.flatnonzero(~filled)
    block = 0
    while len(empty):
        bins = empty % count
        targets = (empty - bins)[:, None] + xp.asarray(probes(count, seed, block))[bins]
        hit = filled[targets]
        found = hit.any(axis=1)
        first = hit[found].argmax(axis=1)
        values[empty[found]] = values[targets[found, first]]
        empty = empty[~found]
        block += 1


def band_keys(signature: Any, bands: int, rows: int, xp: Any = np) -> Any:
    """The (documents x ``bands``) uint64 bucket key of each band of ``rows`` signature
    values: ``fmix64`` folded over the band number and its values, as the key hash folds
    columns, so equal bands of one band number, and only those (up to 64-bit collisions),
    share a key. All bands fold at once, a value of each per step."""
    values = signature.reshape(signature.shape[0], bands, rows)
    keys = xp.empty((signature.shape[0], bands), dtype=xp.uint64)
    keys[:] = xp.arange(1, bands + 1, dtype=xp.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys *= PRIME
            keys += values[:, :, row]
            fmix64(keys)
    return keys
