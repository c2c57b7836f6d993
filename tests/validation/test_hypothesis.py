"""Property tests: random columns (nulls, NaN, empties, boundary values) against GE's engine."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.validation.conftest import _close, assert_agrees, exact_observed, run_native

SETTINGS = settings(
    max_examples=int(os.environ.get("ASSAY_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ints = st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=30)
floats = st.lists(
    st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 2.5])),
    max_size=30,
)
texts = st.lists(
    st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b1", "abc", "Z"])), max_size=30
)
bounds = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([2.5, -0.5]))
mostly = st.sampled_from([1.0, 0.8, 0.5, 0.0])


def _check(ge_validate, frame: pd.DataFrame, config: dict[str, Any], npartitions: int) -> None:
    frame.index = pd.RangeIndex(0, 2 * len(frame), 2)
    result, routed = run_native(frame, [config], npartitions=npartitions)
    ge = ge_validate(frame, config, keep=False)  # generated: never recorded
    native = result.ge_result["results"][0]
    assert_agrees(ge, native, what=config)
    if "unexpected_count" in ge["result"]:
        assert int(routed["_gate_failed"].sum()) == ge["result"]["unexpected_count"]


@SETTINGS
@given(
    values=ints,
    low=bounds,
    high=bounds,
    strict=st.tuples(st.booleans(), st.booleans()),
    share=mostly,
    parts=st.integers(1, 4),
    as_float=st.booleans(),
)
def test_values_between(ge_validate, values, low, high, strict, share, parts, as_float) -> None:
    if (low is None and high is None) or (low is not None and high is not None and low > high):
        low, high = -1, None
    column = pd.array(values, dtype="Int64")
    if as_float:
        column = column.astype("float64")
    config = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {
            "column": "x",
            "min_value": low,
            "max_value": high,
            "strict_min": strict[0],
            "strict_max": strict[1],
            "mostly": share,
        },
    }
    _check(ge_validate, pd.DataFrame({"x": column}), config, parts)


@SETTINGS
@given(
    values=texts,
    chosen=st.lists(st.sampled_from(["", "a", "ab", "q"]), max_size=3),
    share=mostly,
    parts=st.integers(1, 4),
)
def test_in_set(ge_validate, values, chosen, share, parts) -> None:
    config = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "x", "value_set": chosen, "mostly": share},
    }
    _check(ge_validate, pd.DataFrame({"x": pd.Series(values, dtype="str")}), config, parts)


@SETTINGS
@given(
    values=texts,
    pattern=st.sampled_from(["^a", "b", r"\d$", "^$", "."]),
    low=st.one_of(st.none(), st.integers(0, 2)),
    share=mostly,
    parts=st.integers(1, 4),
)
def test_regex_and_lengths(ge_validate, values, pattern, low, share, parts) -> None:
    frame = pd.DataFrame({"x": pd.Series(values, dtype="str")})
    regex = {
        "type": "expect_column_values_to_match_regex",
        "kwargs": {"column": "x", "regex": pattern, "mostly": share},
    }
    lengths = {
        "type": "expect_column_value_lengths_to_be_between",
        "kwargs": {"column": "x", "min_value": low, "max_value": 2},
    }
    _check(ge_validate, frame, regex, parts)
    _check(ge_validate, frame.copy(), lengths, parts)


@SETTINGS
@given(values=floats, parts=st.integers(1, 4), share=mostly)
def test_unique_and_mean(ge_validate, values, parts, share) -> None:
    frame = pd.DataFrame({"x": pd.Series(values, dtype="float64")})
    unique = {
        "type": "expect_column_values_to_be_unique",
        "kwargs": {"column": "x", "mostly": share},
    }
    mean = {
        "type": "expect_column_mean_to_be_between",
        "kwargs": {"column": "x", "min_value": 0, "max_value": 10},
    }
    _check(ge_validate, frame, unique, parts)
    _check(ge_validate, frame.copy(), mean, parts)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 2)),
            st.one_of(st.none(), st.sampled_from(["a", "b"])),
        ),
        max_size=30,
    ),
    mode=st.sampled_from(["all_values_are_missing", "any_value_is_missing", "never"]),
    parts=st.integers(1, 4),
    share=mostly,
)
def test_compound_unique(ge_validate, rows, mode, parts, share) -> None:
    frame = pd.DataFrame(
        {
            "k": pd.array([r[0] for r in rows], dtype="Int64"),
            "s": pd.Series([r[1] for r in rows], dtype="str"),
        }
    )
    config = {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["k", "s"], "ignore_row_if": mode, "mostly": share},
    }
    _check(ge_validate, frame, config, parts)


big_ints = st.lists(st.one_of(st.none(), st.sampled_from([3 * 10**18, -(3 * 10**18), 2**62]),
                              st.integers(-5, 5)), max_size=30)
cancelling = st.lists(
    st.one_of(st.just(np.nan), st.sampled_from([1e16, -1e16, 1.0, 0.1, 1.7e308, -1.7e308]),
              st.floats(-1e3, 1e3, allow_nan=False)), max_size=30)


@SETTINGS
@given(ints=big_ints, floats=cancelling, parts=st.integers(1, 16), plain=st.booleans())
def test_sums_and_means_are_exact_in_any_partitioning(ge_validate, ints, floats, parts,
                                                      plain) -> None:
    """GE's answer where its own arithmetic is exact; the exact one where GE's int64 sum
    wraps or its float sum rounds in row order (``exact_observed``)."""
    column = pd.array(ints, dtype="Int64")
    if plain:  # a plain int64 column: no nulls
        column = np.array([0 if v is None else v for v in ints], dtype="int64")
    frames = {"n": pd.DataFrame({"x": column}),
              "f": pd.DataFrame({"x": pd.Series(floats, dtype="float64")})}
    configs = [{"type": f"expect_column_{stat}_to_be_between",
                "kwargs": {"column": "x", "min_value": -1e300, "max_value": 1e300}}
               for stat in ("sum", "mean")]
    for frame in frames.values():
        frame.index = pd.RangeIndex(0, 2 * len(frame), 2)
        result, _ = run_native(frame, configs, npartitions=parts)
        for config, native in zip(configs, result.ge_result["results"], strict=True):
            ge = ge_validate(frame, config, keep=False)
            exact = exact_observed(frame, config)
            if _close(ge["result"]["observed_value"], exact):
                assert_agrees(ge, native, what=config)
            else:
                assert _close(native["result"]["observed_value"], exact), (config, exact)
