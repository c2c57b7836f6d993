"""A string column's codes answer ``isin`` and ``value_counts`` exactly as pandas does, and
are computed once per partition scope for every expectation that asks."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.validation.expectations.shared import partition_scope
from assay.validation.expectations.string_codes import encoded, isin, value_counts

WORDS = st.sampled_from(["a", "b", "US", "é", "", " a", "日本"]) | st.none()


def _column(chunks: list[list[str | None]]) -> pd.Series:
    """A ``str`` column of one or more Arrow chunks (concatenated partitions have several)."""
    parts = [pd.Series(chunk, dtype="str") for chunk in chunks]
    return pd.concat(parts, ignore_index=True).rename("c") if parts else \
        pd.Series([], dtype="str", name="c")


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.lists(WORDS, max_size=12), max_size=3),
       members=st.lists(WORDS | st.integers(0, 3), max_size=4))
def test_answers_are_pandas(chunks, members) -> None:
    values = _column(chunks)
    strings = [m for m in members if isinstance(m, str)]  # what set_for_column hands over
    assert isin(values, "c", strings).tolist() == values.isin(strings).tolist()
    assert isin(values, "c", strings).index.equals(values.index)
    pd.testing.assert_series_equal(value_counts(values, "c"),
                                   values[values.notna()].value_counts(sort=False))


def test_other_columns_keep_pandas_own_calls() -> None:
    for values in (pd.Series(["a", None], dtype="string[pyarrow]"),
                   pd.Series(["a", None], dtype=object), pd.Series([1, 2])):
        assert encoded(values, "c") is None
        assert value_counts(values, "c") is None
        assert isin(values, "c", ["a", 1]).tolist() == values.isin(["a", 1]).tolist()


def test_encoded_once_per_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pc.dictionary_encode

    def counting(array: pa.Array) -> pa.Array:
        calls.append(len(array))
        return real(array)

    monkeypatch.setattr(pc, "dictionary_encode", counting)
    values = _column([["US", "DE", None, "US"]])
    with partition_scope():
        isin(values, "c", ["US"])
        isin(values, "c", ["XX"])
        value_counts(values, "c")
    assert calls == [4]
