"""The exact Jaccard similarity of document pairs' n-gram sets, which verifies an LSH
candidate before it becomes an edge of a cluster.

Both sides' n-gram hashes (``shingle_hashes``) are made sets per pair by one sort, then
the two sets of every pair are merged by one more: the intersection of a pair is the number
of hashes that occur on both sides. No loop over pairs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from assay.transforms.shingles import Shingles, Unit, shingle_hashes


def _pair_sets(shingles: Shingles) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's distinct hashes: (pair, hash) arrays sorted by pair then hash."""
    pairs = shingles.documents
    order = np.lexsort((shingles.hashes, pairs))
    pairs, hashes = pairs[order], shingles.hashes[order]
    new = np.ones(len(hashes), dtype=bool)
    new[1:] = (hashes[1:] != hashes[:-1]) | (pairs[1:] != pairs[:-1])
    return pairs[new], hashes[new]


def pair_jaccard(left: pa.Array, right: pa.Array, unit: Unit, n: int) -> np.ndarray:
    """For each row, the Jaccard similarity of ``left``'s and ``right``'s n-gram sets
    (float64; 0 where both have none)."""
    count = len(left)
    left_pairs, left_hashes = _pair_sets(shingle_hashes(left, unit, n))
    right_pairs, right_hashes = _pair_sets(shingle_hashes(right, unit, n))
    sizes = (np.bincount(left_pairs, minlength=count)
             + np.bincount(right_pairs, minlength=count))
    pairs = np.concatenate([left_pairs, right_pairs])
    hashes = np.concatenate([left_hashes, right_hashes])
    order = np.lexsort((hashes, pairs))
    pairs, hashes = pairs[order], hashes[order]
    both = (hashes[1:] == hashes[:-1]) & (pairs[1:] == pairs[:-1])
    shared = np.bincount(pairs[1:][both], minlength=count)
    union = sizes - shared
    return np.divide(shared, union, out=np.zeros(count), where=union > 0)
