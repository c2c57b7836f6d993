"""Candidate pairs from LSH buckets: the documents that share a band's bucket key.

A bucket of ``n`` documents (sorted by key) gives every pair when ``n <= ALL_PAIRS``
(at most 120 pairs); a larger one gives a star from its smallest key to every other member
plus the chain of neighbours in key order, ``2n - 3`` pairs. So a bucket of thousands of
identical documents costs linear work and memory, never quadratic.

What the bound costs in recall: in a bucket larger than ``ALL_PAIRS``, two members that are
neither the smallest key nor neighbours in key order are not compared in that band. When
they are near-duplicates they still join the same cluster if each is verified against the
star's centre or a neighbour (a bucket of copies: always), or if they meet in another band's
smaller bucket; a pair is lost only when neither path holds, i.e. in a big bucket of
documents that share one band but are mostly not near-duplicates of each other (boilerplate
that fills a band), and only for pairs no other band brings together.
"""

from __future__ import annotations

import numpy as np

ALL_PAIRS = 16


def bucket_pairs(keys: np.ndarray, buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)``, ``a < b``, of document keys sharing a bucket (int64 arrays; a pair
    may repeat when it shares several buckets)."""
    order = np.lexsort((keys, buckets))
    keys, buckets = keys[order], buckets[order]
    if len(keys) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty
    starts = np.flatnonzero(np.concatenate([[True], buckets[1:] != buckets[:-1]]))
    sizes = np.diff(np.append(starts, len(keys)))
    group = np.repeat(np.arange(len(starts)), sizes)
    size = sizes[group]  # each row's bucket size
    first = starts[group]  # each row's bucket's first row
    rows = np.arange(len(keys))
    lefts, rights = [], []
    for d in range(1, ALL_PAIRS):  # every pair of small buckets, by distance in the bucket
        left = rows[(rows + d < first + size) & (size <= ALL_PAIRS)]
        lefts.append(left)
        rights.append(left + d)
    big = size > ALL_PAIRS
    chain = rows[big & (rows + 1 < first + size)]
    star = rows[big & (rows > first + 1)]
    lefts += [chain, first[star]]
    rights += [chain + 1, star]
    left, right = np.concatenate(lefts), np.concatenate(rights)
    a, b = keys[left], keys[right]
    distinct = a != b  # a document repeats in a bucket only if fed twice: never a pair
    return a[distinct], b[distinct]
