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

from assay.validation import duplicates
from assay.validation.duplicates import (
    CANDIDATE_SHARE,
    SPAN_PER_ROW,
    counted_positions,
    duplicate_rows,
    integer_key_hash,
    repeated_positions,
)


def _spread(values: list[int]) -> np.ndarray:
    """Small ints as well-spread uint64 hashes (distinct ints keep distinct top bits)."""
    return np.array(values, dtype="uint64") * np.uint64(0x9E3779B97F4A7C15)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 25), max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=4))
def test_repeated_positions_whatever_the_partitions(values, cuts) -> None:
    hashes = _spread(values)
    bounds = sorted(c for c in cuts if c <= len(hashes))
    parts = np.split(hashes, bounds)
    found = repeated_positions(parts)
    counts = pd.Series(values).value_counts()
    again = np.isin(values, counts[counts > 1].index)
    assert len(found) == len(parts)
    for part, start, positions in zip(parts, [0, *bounds], found, strict=True):
        expected = np.flatnonzero(again[start:start + len(part)])
        assert positions.tolist() == expected.tolist()


def test_hashes_that_share_their_top_bits_are_candidates() -> None:
    """The packed positions take the hashes' low bits: hashes differing only there are
    both candidates, which the check on the real values then tells apart."""
    near = np.array([2**40, 2**40 + 1, 7 << 60], dtype="uint64")
    assert [p.tolist() for p in repeated_positions([near[:1], near[1:]])] == [[0], [0]]


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
                         "flag": flag, "big": big,
                         # without nulls: hashed by integer_key_hash
                         "n": rng.integers(-3, 3, rows),
                         "t": pd.to_datetime(rng.integers(0, 3, rows), unit="D", utc=True),
                         "yes": rng.integers(0, 2, rows).astype(bool),
                         "m": pd.array(rng.integers(0, rows // 2, rows), dtype="Int64")},
                        index=rng.permutation(rows))  # the index plays no part


@pytest.mark.parametrize("npartitions", [1, 3, 7])
@pytest.mark.parametrize("columns", [["id"], ["id", "when"], ["score", "name"],
                                     ["big", "flag"], ["flag"], ["when"], ["m"], ["big"],
                                     ["n", "t"], ["t", "n", "yes"], ["m", "big"]])
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


def test_integer_keys_are_hashed_without_pandas_and_others_are_not() -> None:
    frame = _keys(400)
    for columns in (["m"], ["big"], ["n", "t"], ["t", "n", "yes"]):
        hashes = integer_key_hash(frame[columns])
        assert hashes is not None and hashes.dtype == np.uint64, columns
        same = frame[columns].duplicated(keep=False).to_numpy()
        assert np.isin(hashes, hashes[same]).sum() >= same.sum()  # equal keys, equal hashes
    single = frame["m"].to_numpy(dtype=np.int64)
    assert len(np.unique(integer_key_hash(frame[["m"]]))) == len(np.unique(single))  # no collision
    swapped = integer_key_hash(pd.DataFrame({"a": [1, 2], "b": [2, 1]}))
    assert swapped[0] != swapped[1]  # (1, 2) and (2, 1) differ
    for columns in (["score"], ["name"], ["score", "n"]):  # floats (-0.0 == 0.0), text
        assert integer_key_hash(frame[columns]) is None, columns
    nulls = integer_key_hash(frame[["id", "when"]])  # every null of a column alike
    missing = frame[["id", "when"]].isna().all(axis=1).to_numpy()
    assert missing.sum() > 1 and len(np.unique(nulls[missing])) == 1


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-3, 8)), max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=4))
def test_counted_positions_are_the_repeated_values_and_nulls(values, cuts) -> None:
    nulls = np.array([v is None for v in values], dtype=bool)
    filled = np.array([0 if v is None else v for v in values], dtype=np.int64)
    bounds = sorted(c for c in cuts if c <= len(values))
    found = counted_positions(np.split(filled, bounds), np.split(nulls, bounds), exact=True)
    present = filled[~nulls]
    if not len(present) or np.ptp(present) + 1 > SPAN_PER_ROW * len(values):
        assert found is None  # nothing to count, or values spread too far
        return
    counts = pd.Series(values, dtype="Int64").value_counts(dropna=False)
    again = pd.Series(values, dtype="Int64").map(counts).to_numpy() > 1
    assert found is not None and len(found) == len(bounds) + 1
    got = np.concatenate([positions + start for positions, start
                          in zip(found, [0, *bounds], strict=True)])
    assert got.tolist() == np.flatnonzero(again).tolist()


def test_values_spread_too_far_or_too_many_candidates_are_left_to_the_sort() -> None:
    rows = 1000
    none = [np.zeros(rows, dtype=bool)]
    spread = np.arange(rows, dtype=np.int64) * (SPAN_PER_ROW + 1)
    assert counted_positions([spread], none, exact=True) is None
    dense = np.arange(rows, dtype=np.uint64) // 2  # every value twice
    assert len(counted_positions([dense], none, exact=True)[0]) == rows
    assert counted_positions([dense], none, exact=False) is None  # a compound key's superset
    few = np.arange(rows, dtype=np.int64)
    few[: int(CANDIDATE_SHARE * rows) // 2] = 0
    assert counted_positions([few], none, exact=False) is not None
    near_top = np.array([2**64 - 3, 2**64 - 1, 2**64 - 1], dtype=np.uint64)
    assert counted_positions([near_top], [np.zeros(3, dtype=bool)], True)[0].tolist() == [1, 2]


@pytest.mark.parametrize(("columns", "sorted_hashes"), [
    (["n"], 0), (["n", "name"], 0), (["name", "m"], 0),  # counted: dense integers
    (["t"], 1), (["name"], 1)])  # timestamps a day apart in ns, text: the hashes' sort
def test_dense_integer_keys_are_counted_without_sorting_the_hashes(
        cluster, count_calls, columns, sorted_hashes) -> None:
    rng = np.random.default_rng(3)
    rows = 2000
    frame = pd.DataFrame({"n": rng.permutation(rows), "m": rng.permutation(rows),
                          "name": rng.choice(["a", "b"], rows).astype("str"),
                          "t": pd.to_datetime(rng.integers(0, rows, rows), unit="D")})
    frame.loc[:29, "n"] = frame.loc[30:59, "n"].to_numpy()  # 60 rows repeat an id
    frame.loc[:29, "m"] = frame.loc[30:59, "m"].to_numpy()
    calls = count_calls(duplicates, "repeated_positions")
    live = dd.from_pandas(frame, npartitions=4, sort=False)
    flags = dask.compute(duplicate_rows(live, columns, drop_nulls=len(columns) == 1),
                         scheduler=cluster.get)[0]
    expected = frame[columns].duplicated(keep=False)
    assert flags.to_numpy().tolist() == expected.to_numpy().tolist()
    assert calls["repeated_positions"] == sorted_hashes
