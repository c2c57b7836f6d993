"""Deterministic train/validation/test style splits: a row's split depends only on the
values of its key columns and the seed, so the same record lands in the same split in
every run, on any number of workers, and when new data is appended."""

from __future__ import annotations

import itertools
import math

from assay.transforms import frame as fr
from assay.transforms.frame import Column, Frame

_SEED_COLUMN = "__split_seed__"
_UNIT = float(2**53)


def _check_fractions(fractions: dict[str, float]) -> None:
    if not fractions:
        raise ValueError("give at least one split")
    if any(not 0 <= share <= 1 for share in fractions.values()):
        raise ValueError(f"split fractions must lie in [0, 1], got {fractions}")
    if not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"split fractions must sum to 1, got {sum(fractions.values())}")


def uniform(frame: Frame, key: list[str], seed: int) -> Column:
    """A float in [0, 1) per row, a stable function of (key values, seed)."""
    missing = [c for c in key if c not in frame.columns]
    if not key or missing:
        raise ValueError(f"split key needs existing columns, missing {missing or key}")
    keyed = frame[key].assign(**{_SEED_COLUMN: seed})
    hashes = fr.stable_hash_rows(keyed)
    return (hashes // 2**11).astype("float64") / _UNIT  # top 53 bits: exact in a float


def assign_split(frame: Frame, key: list[str], fractions: dict[str, float], seed: int) -> Column:
    """The split name of each row: row goes to split i with probability ``fractions[i]``."""
    _check_fractions(fractions)
    draw = uniform(frame, key, seed)
    names = list(fractions)
    edges = itertools.accumulate(fractions[name] for name in names[:-1])
    out = fr.broadcast(names[-1], frame)
    for name, edge in reversed(list(zip(names, edges, strict=False))):
        out = out.where(draw >= edge, name)  # below the edge: this split (or an earlier one)
    return out
