"""Duplicate rows over partitions equal pandas' ``duplicated(keep=False)`` (GE's pandas
engine's test) on the whole frame, however the rows are split."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.validation.duplicates import duplicate_rows, in_sorted, repeated


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 25), max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=4))
def test_repeated_hashes_whatever_the_partitions(values, cuts) -> None:
    hashes = np.array(values, dtype="uint64")
    parts = np.split(hashes, sorted(c for c in cuts if c <= len(hashes)))
    counts = pd.Series(hashes).value_counts()
    assert repeated(parts).tolist() == sorted(counts[counts > 1].index.tolist())


@settings(max_examples=200, deadline=None)
@given(hashes=st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 40), max_size=50),
       repeats=st.sets(st.integers(0, 2**64 - 1) | st.integers(0, 40), max_size=20))
def test_membership_in_sorted_repeats(hashes, repeats) -> None:
    values = np.array(hashes, dtype="uint64")
    ordered = np.array(sorted(repeats), dtype="uint64")  # small ints share their top bits
    expected = np.flatnonzero(np.isin(values, ordered))
    assert in_sorted(values, ordered).tolist() == expected.tolist()


def _keys(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ids = pd.array(rng.integers(0, rows // 2, rows), dtype="Int64")
    ids[rng.random(rows) < 0.1] = pd.NA
    when = pd.Series(pd.to_datetime(rng.integers(0, 3, rows), unit="D", utc=True))
    when[rng.random(rows) < 0.2] = pd.NaT
    score = pd.Series(rng.integers(0, 3, rows) / 2)
    score[rng.random(rows) < 0.2] = np.nan
    flag = pd.array(rng.integers(0, 2, rows).astype(bool), dtype="boolean")
    flag[rng.random(rows) < 0.2] = pd.NA
    big = (np.uint64(2**64 - 1) - rng.integers(0, 4, rows).astype("uint64"))
    return pd.DataFrame({"id": ids, "when": when, "score": score,
                         "name": rng.choice(["a", "b", "é"], rows).astype("str"),
                         "flag": flag, "big": big},
                        index=rng.permutation(rows))  # the index plays no part


@pytest.mark.parametrize("npartitions", [1, 3, 7])
@pytest.mark.parametrize("columns", [["id"], ["id", "when"], ["score", "name"],
                                     ["big", "flag"], ["flag"], ["when"]])
def test_rows_flagged_as_pandas_duplicated(cluster, columns, npartitions) -> None:
    frame = _keys(400)
    live = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    single = len(columns) == 1
    flags = duplicate_rows(live, columns, drop_nulls=single)
    flagged = dask.compute(flags, scheduler=cluster.get)[0]
    keys = frame[columns].dropna() if single else frame[columns]
    expected = keys.duplicated(keep=False).reindex(frame.index, fill_value=False)
    assert flagged.to_numpy().tolist() == expected.to_numpy().tolist()
    assert flagged.index.equals(frame.index)
