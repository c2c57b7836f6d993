"""Repeated key hashes over partitions, merged in any tree shape, equal value_counts > 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.validation.repeats import merge, repeated, summarize


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(0, 25), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    grouping=st.lists(st.integers(1, 3), min_size=1, max_size=6),
)
def test_repeated_hashes_whatever_the_partitions_and_tree(values, cuts, grouping) -> None:
    hashes = np.array(values, dtype="uint64")
    parts = np.split(hashes, sorted(c for c in cuts if c <= len(hashes)))
    summaries = [summarize(pd.Series(p, dtype="uint64")) for p in parts]
    for width in grouping:  # merge neighbours in groups of ``width`` + 1, like a tree
        summaries = [merge(summaries[i:i + width + 1])
                     for i in range(0, len(summaries), width + 1)]
    total = merge(summaries)
    counts = pd.Series(hashes).value_counts()
    assert sorted(repeated(total).tolist()) == sorted(counts[counts > 1].index.tolist())
    assert total[0].tolist() == sorted(set(values))


def test_empty_merge() -> None:
    distinct, flags = merge([])
    assert len(distinct) == 0 and len(flags) == 0
