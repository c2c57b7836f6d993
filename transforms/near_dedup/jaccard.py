"""The exact Jaccard similarity of document pairs' n-gram sets, which verifies an LSH
candidate before it becomes an edge of a cluster.

Both sides' n-gram hashes (``shingle_hashes``), tagged with their side, are sorted once by
pair then hash: a run of equal hashes within a pair is one n-gram of the pair's union, in
the intersection when the run holds both sides. No loop over pairs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from assay.transforms.shingles import Unit, shingle_hashes


def _by_pair_then_hash(pairs: np.ndarray, hashes: np.ndarray, count: int) -> np.ndarray:
    """The order that sorts by pair, then hash: an unstable sort of the hashes, then a
    stable one of the pairs (a radix sort when ``count`` pairs fit 16 bits)."""
    order = np.argsort(hashes)
    ranks = pairs[order].astype(np.uint16 if count <= 1 << 16 else np.int64)
    return order[np.argsort(ranks, kind="stable")]


def pair_jaccard(left: pa.Array, right: pa.Array, unit: Unit, n: int) -> np.ndarray:
    """For each row, the Jaccard similarity of ``left``'s and ``right``'s n-gram sets
    (float64; 0 where both have none)."""
    count = len(left)
    sides = shingle_hashes(left, unit, n), shingle_hashes(right, unit, n)
    pairs = np.concatenate([side.documents for side in sides])
    hashes = np.concatenate([side.hashes for side in sides])
    on_left = np.zeros(len(hashes), dtype=bool)
    on_left[:len(sides[0].hashes)] = True
    order = _by_pair_then_hash(pairs, hashes, count)
    pairs, hashes, on_left = pairs[order], hashes[order], on_left[order]
    if not len(hashes):
        return np.zeros(count)
    starts = np.flatnonzero(np.concatenate(
        [[True], (hashes[1:] != hashes[:-1]) | (pairs[1:] != pairs[:-1])]))
    left_in = np.logical_or.reduceat(on_left, starts)
    right_in = np.logical_and.reduceat(on_left, starts) == 0  # a run not all from the left
    owner = pairs[starts]
    union = np.bincount(owner, minlength=count)
    shared = np.bincount(owner[left_in & right_in], minlength=count)
    return np.divide(shared, union, out=np.zeros(count), where=union > 0)
