"""Per-row reasons from masks: packed codes must give exactly the naive string join."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.transforms.base import REASON_SEP
from assay.transforms.masks import reasons


def _naive(masks: list[list[bool | None]], texts: list[str], rows: int) -> list[str]:
    return [REASON_SEP.join(t for m, t in zip(masks, texts, strict=True) if m[r] is True)
            for r in range(rows)]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 12),
    count=st.sampled_from([0, 1, 3, 62, 63, 130]),
    seed=st.integers(0, 2**16),
)
def test_reasons_equal_the_naive_join(rows: int, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    choices = np.array([True, False, None], dtype=object)
    masks = [list(rng.choice(choices, rows, p=[0.2, 0.7, 0.1])) for _ in range(count)]
    texts = [f"check {i}" for i in range(count)]
    index = pd.RangeIndex(5, 5 + 2 * rows, 2)  # not 0..n-1: results keep the index
    parts = [(pd.Series(m, index=index, dtype="boolean"), t)
             for m, t in zip(masks, texts, strict=True)]
    got = reasons(pd.Series(0, index=index), parts)
    assert got.index.equals(index)
    assert str(got.dtype) == "str"
    assert got.tolist() == _naive(masks, texts, rows)
