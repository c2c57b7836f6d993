"""Which 64-bit key hashes occur more than once over all partitions, found without
grouping every row in one place.

Each partition sorts its distinct hashes and flags those it holds more than once; a tree
reduction merges sorted runs (a stable sort of concatenated runs is a merge) and flags a
hash repeated when either run flagged it or it appears in two runs: faster than
``value_counts`` however split (``benchmarks/RESULTS.md``, gate evaluation).
Arrays come from ``assay.transforms.frame.array_values``, so the same code runs on numpy (CPU)
and CuPy (GPU) without a host copy.
"""

from __future__ import annotations

from typing import Any

from assay.transforms.frame import array_module, array_values

Summary = tuple[Any, Any]  # (sorted distinct hashes, repeated flag per hash)


def summarize(hashes: Any) -> Summary:
    """The summary of one partition's key hashes (a non-null uint64 column)."""
    values = array_values(hashes)
    xp = array_module(values)
    distinct, counts = xp.unique(values, return_counts=True)
    return distinct, counts > 1


def merge(summaries: list[Summary]) -> Summary:
    """One summary for several; an empty list gives an empty summary."""
    if not summaries:
        import numpy

        return numpy.zeros(0, dtype="uint64"), numpy.zeros(0, dtype=bool)
    if len(summaries) == 1:
        return summaries[0]
    xp = array_module(summaries[0][0])
    values = xp.concatenate([s[0] for s in summaries])
    flags = xp.concatenate([s[1] for s in summaries])
    order = xp.argsort(values, kind="stable")
    values, flags = values[order], flags[order]
    if len(values) == 0:
        return values, flags
    starts = xp.ones(len(values), dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    first = xp.flatnonzero(starts)
    repeated = xp.diff(first, append=len(values)) > 1  # a hash in two runs
    flagged = xp.flatnonzero(flags)  # few: hashes a run already held twice
    repeated[xp.searchsorted(first, flagged, side="right") - 1] = True
    return values[first], repeated


def repeated(summary: Summary) -> Any:
    """The hashes flagged repeated, as an array."""
    return summary[0][summary[1]]
