"""The fast paths of casting and timestamp parsing must give exactly what the general pandas
path gives."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assay.transforms import timestamps
from assay.transforms.casting import cast_column

digits = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
canonical_like = st.builds(
    lambda y, mo, d, h, mi, s, zone: f"{y:04d}-{mo}-{d}T{h}:{mi}:{s}{zone}",
    st.integers(min_value=1, max_value=9999), digits, digits, digits, digits, digits,
    st.sampled_from(["Z", "+02:00", "-0530", "+14:00", "", "+25:00"]),
)
anything = st.one_of(canonical_like, st.text(max_size=25), st.none(),
                     st.sampled_from(["2024-01-01T00:00:00.5Z", "2024-01-01 00:00:00",
                                      "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(anything, max_size=30))
@example(["0001-01-01T00:00:00+25:00", "2024-01-01T00:00:00-23:59", "2024-01-01T00:00:00+2400"])
@example(["2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
          "0400-02-29T12:00:00+01:00", "2023-04-31T00:00:00Z", "2024-12-31T23:59:60Z",
          "2024-06-30T24:00:00Z", "9999-12-31T23:59:59-01:00", None])
def test_iso_fast_path_equals_pandas(raw):
    values = pd.Series(raw, dtype="str", index=range(7, 7 + len(raw)))  # like a partition
    fast = timestamps.parse_timestamps(values, "ISO8601", "UTC")
    general = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    assert fast.dtype == "datetime64[us, UTC]"
    assert fast.equals(general.dt.as_unit("us"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
                          st.sampled_from(["", " 7", "+3", "1.0", "1e3", "x"]), st.none()),
                max_size=20),
       st.sampled_from(["int64", "int32", "float64"]))
def test_numeric_fast_path_equals_general_path(raw, type_name):
    values = pd.Series(raw, dtype="str")
    result = cast_column(values, type_name)
    pieces = [cast_column(values.iloc[[i]], type_name) for i in range(len(values))]
    # one value at a time mostly misses the fast path (any bad neighbour disables it)
    for i, piece in enumerate(pieces):
        assert bool(piece.failed.iloc[0]) == bool(result.failed.iloc[i])
        left, right = piece.values.iloc[0], result.values.iloc[i]
        assert pd.isna(left) == pd.isna(right)
        if type_name.startswith("float"):  # pandas' parser may be an ulp off correct rounding
            assert pd.isna(left) or math.isclose(left, right, rel_tol=1e-15)
        else:
            assert pd.isna(left) or left == right


@settings(max_examples=150, deadline=None)
@given(st.lists(anything, max_size=30))
@example(["2024-06-01T10:61:00Z", "2024-02-30T10:00:00Z", "0000-00-00T00:00:00Z",
          "2024-03-01T10:00:00-05:30", "2024-03-01T10:00:00+0530", None])
def test_device_iso_parser_equals_pandas_where_it_answers(raw):
    """The cuDF path's parser, run here on pandas through the API the two share: what it
    parses equals pandas' general parser, and what it leaves is left null for that parser."""
    values = pd.Series(raw, dtype="str", index=range(7, 7 + len(raw)), name="ts_raw")
    stamps, leftover = timestamps.canonical_iso_utc_shared(values)
    general = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    assert stamps.dtype == "datetime64[us, UTC]"
    assert stamps[~leftover].equals(general[~leftover].dt.as_unit("us"))
    assert stamps[leftover].isna().all()
    assert not (leftover & values.isna()).any()
    assert stamps.name is None and leftover.name is None  # as the Arrow path's


def test_device_iso_parser_answers_the_canonical_shape_itself():
    values = pd.Series(["2024-03-01T10:00:00-05:30", "2024-03-01T10:00:00+0530",
                        "2024-12-31T23:59:59Z", "2024-02-30T10:00:00Z", "2024-06-01T10:61:00Z",
                        "2024-01-01 00:00:00", None], dtype="str")
    stamps, leftover = timestamps.canonical_iso_utc_shared(values)
    assert leftover.tolist() == [False, False, False, True, True, True, False]
    assert [str(s) for s in stamps.iloc[:3]] == [
        "2024-03-01 15:30:00+00:00", "2024-03-01 04:30:00+00:00", "2024-12-31 23:59:59+00:00"]


def test_arrow_iso_parser_answers_valid_dates_alone_and_leaves_impossible_ones():
    """Arrow's cast parses every valid canonical value itself (leap years included);
    impossible dates and other shapes are left to pandas' general parser."""
    values = pd.Series(["2000-02-29T00:00:00Z", "2024-03-01T10:00:00-05:30", "1900-02-29T00:00:00Z",
                        "2023-04-31T00:00:00Z", "2024-12-31T23:59:60Z", "2024-01-01 00:00:00",
                        None], dtype="str", index=range(3, 10))
    stamps, leftover = timestamps._canonical_iso_utc(values)
    assert leftover.tolist() == [False, False, True, True, True, True, False]
    assert list(leftover.index) == list(values.index)
    assert [str(s) for s in stamps.iloc[:2]] == ["2000-02-29 00:00:00+00:00",
                                                 "2024-03-01 15:30:00+00:00"]


def test_iso_parse_falls_back_to_pandas_where_arrow_refuses_an_admitted_value(monkeypatch):
    """Should the admitting regex and Arrow's parser ever disagree, the column is parsed by
    pandas instead of failing (here the regex admits the bare shape, Feb 30 included)."""
    monkeypatch.setattr(timestamps, "VALID_ISO", timestamps.CANONICAL_ISO)
    values = pd.Series(["2024-02-30T10:00:00Z", "2024-03-01T10:00:00Z"], dtype="str")
    assert timestamps._canonical_iso_utc(values) is None
    parsed = timestamps.parse_timestamps(values, "ISO8601", "UTC")
    assert parsed.isna().tolist() == [True, False]
