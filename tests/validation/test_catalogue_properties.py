"""Every registered expectation, on hypothesis-generated frames, against GE's pandas engine.

The fixed-frame modules (``test_catalogue_*``, ``test_differential``) pin down known edge
cases; this one lets hypothesis look for new ones. Each expectation type has a strategy for
its kwargs (every parameter it supports, ``mostly`` and bounds included); frames mix nulls,
NaN, infinities, empty strings, mixed case, ties, all-null columns and empty frames, and
are split into one to four partitions. ``test_every_expectation_has_a_strategy`` keeps the
list complete as the catalogue grows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.validation.expectations.registry import REGISTRY
from assay.validation.suite import SuiteError, parse_suite
from tests.validation.conftest import _close, assert_agrees, exact_observed, run_native

SETTINGS = settings(
    max_examples=int(os.environ.get("ASSAY_HYPOTHESIS_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# GE 1.24's pandas engine has no LIKE metric (it raises); test_catalogue_map tests ours alone;
# assay's own (not in GE's catalogue): tests/pipelines/test_cross_split_gate.py
NOT_IN_GE_PANDAS = {
    "expect_column_values_to_match_like_pattern",
    "expect_column_values_to_not_match_like_pattern",
    "expect_no_near_duplicates_across_splits",
}

TEXTS = ["", "a", "A", "ab", "Ab", " ab", "b1", "日本", "2024-01-31", "2024-13-01",
         "Jan 5 2023", '{"a": 1}', "[1, 2]", "null", "1.5", "x y"]  # fmt: skip
NUMERIC = ("i", "j", "f", "z", "p", "b", "nb", "big", "c")
TIMES = ("t", "tz")
ANY_COLUMN = (*NUMERIC, "s", *TIMES)
COLUMNS = [*ANY_COLUMN]
STAMPS = ["2024-01-01", "2024-01-02", "2023-12-31 23:00", "2024-01-01 00:00:00.5"]
# ISO texts GE's pydantic reads as a date (never comparable with a timestamp) or datetimes
ISO = ["2024-01-01", "2024-01-01T00:00:00", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00+01:00"]
BIG = 3_000_000_000_000_000_000


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """Columns: i, j nullable ints; f floats with NaN and infinities; z all NaN sometimes;
    s strings with nulls and empties; p plain int64; b plain bool; nb nullable booleans
    with nulls; big int64 near +-3e18 (sums past int64); c floats that cancel (1e16, 1,
    1.7e308...); t naive and tz UTC timestamps with NaT and ties."""
    n = draw(st.integers(0, 16))
    ints = st.lists(st.one_of(st.none(), st.integers(-3, 6)), min_size=n, max_size=n)
    floats = st.lists(
        st.one_of(st.just(np.nan), st.sampled_from([0.0, -0.0, 2.5, 1e6, np.inf, -np.inf]),
                  st.floats(-10, 10, allow_nan=False).map(lambda v: round(v, 2))),
        min_size=n, max_size=n,
    )
    all_null = draw(st.booleans())
    frame = pd.DataFrame({
        "i": pd.array(draw(ints), dtype="Int64"),
        "j": pd.array(draw(ints), dtype="Int64"),
        "f": pd.Series(draw(floats), dtype="float64"),
        "z": pd.Series([np.nan] * n if all_null else draw(floats), dtype="float64"),
        "s": pd.Series(draw(st.lists(st.one_of(st.none(), st.sampled_from(TEXTS)),
                                     min_size=n, max_size=n)), dtype="str"),
        "p": np.array(draw(st.lists(st.integers(-3, 6), min_size=n, max_size=n)),
                      dtype="int64"),
        "b": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        "nb": pd.array(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n,
                                     max_size=n)), dtype="boolean"),
        "big": np.array(draw(st.lists(st.sampled_from([BIG, BIG + 1, -BIG, 7]), min_size=n,
                                      max_size=n)), dtype="int64"),
        "c": pd.Series(draw(st.lists(st.sampled_from([1e16, -1e16, 1.0, 0.5, 1.7e308,
                                                      -1.7e308]), min_size=n, max_size=n)),
                       dtype="float64"),
    })
    stamps = draw(st.lists(st.one_of(st.none(), st.sampled_from(STAMPS)), min_size=n,
                           max_size=n))
    frame["t"] = pd.to_datetime(pd.Series(stamps, dtype=object), format="ISO8601").astype(
        "datetime64[us]")
    frame["tz"] = frame["t"].dt.tz_localize("UTC")
    frame.index = pd.RangeIndex(0, 3 * n, 3)
    return frame


mostly = st.sampled_from([1.0, 0.9, 0.5, 0.0])
small = st.one_of(st.none(), st.integers(-3, 6), st.sampled_from([2.5, -0.5, 0.0]))
strict = st.booleans()
values = st.one_of(st.integers(-3, 6), st.sampled_from(TEXTS), st.sampled_from([2.5, 0.0]),
                   st.sampled_from(ISO))
value_sets = st.lists(values, max_size=5, unique_by=lambda v: (type(v), v))
regexes = st.sampled_from(["^a", "b", r"\d", "^$", ".", "(?i)^ab$", r"\s", "日"])
pair_modes = st.sampled_from(["both_values_are_missing", "either_value_is_missing", "neither"])
list_modes = st.sampled_from(["all_values_are_missing", "any_value_is_missing", "never"])


def _bounds(draw: st.DrawFn, low: st.SearchStrategy = small) -> dict[str, Any]:
    lo, hi = draw(low), draw(low)
    if lo is None and hi is None:
        lo = 0
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return {"min_value": lo, "max_value": hi, "strict_min": draw(strict),
            "strict_max": draw(strict)}


def _comparable(column_map: bool) -> st.SearchStrategy:
    """A number or timestamp column and bounds it may be compared with: numbers, or one ISO
    text for a timestamp column (a date-only text, or naive against zoned, raises in GE)."""
    @st.composite
    def kwargs(draw: st.DrawFn) -> dict[str, Any]:
        column = draw(st.sampled_from((*NUMERIC, *TIMES)))
        if column in TIMES:
            side = draw(st.sampled_from(["min_value", "max_value"]))
            bounds = {side: draw(st.sampled_from(ISO)), "strict_min": draw(strict),
                      "strict_max": draw(strict)}
        else:
            bounds = _bounds(draw)
        return {"column": column, **bounds, **({"mostly": draw(mostly)} if column_map else {})}

    return kwargs()


def _column_map(columns: tuple[str, ...], extra: Callable[[st.DrawFn], dict] = lambda d: {}):
    @st.composite
    def kwargs(draw: st.DrawFn) -> dict[str, Any]:
        return {"column": draw(st.sampled_from(columns)), "mostly": draw(mostly), **extra(draw)}

    return kwargs()


def _aggregate(columns: tuple[str, ...], extra: Callable[[st.DrawFn], dict]):
    @st.composite
    def kwargs(draw: st.DrawFn) -> dict[str, Any]:
        return {"column": draw(st.sampled_from(columns)), **extra(draw)}

    return kwargs()


def _quantiles(draw: st.DrawFn) -> dict[str, Any]:
    qs = draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), min_size=1,
                       max_size=4, unique=True))
    ranges = [[b["min_value"], b["max_value"]] for b in (_bounds(draw) for _ in qs)]
    method = draw(st.sampled_from(["nearest", "lower", "higher", "midpoint", "linear"]))
    return {"quantile_ranges": {"quantiles": qs, "value_ranges": ranges},
            "allow_relative_error": method}


def _pairs(extra: Callable[[st.DrawFn], dict] = lambda d: {}):
    @st.composite
    def kwargs(draw: st.DrawFn) -> dict[str, Any]:
        a, b = draw(st.permutations(["i", "j", "f", "p", "b", "nb", "c"]))[:2]
        return {"column_A": a, "column_B": b, "mostly": draw(mostly),
                "ignore_row_if": draw(pair_modes), **extra(draw)}

    return kwargs()


def _multi(extra: Callable[[st.DrawFn], dict] = lambda d: {},
           pool=("i", "j", "f", "s", "p", "nb", "t")):
    @st.composite
    def kwargs(draw: st.DrawFn) -> dict[str, Any]:
        columns = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=3, unique=True))
        return {"column_list": columns, "mostly": draw(mostly),
                "ignore_row_if": draw(list_modes), **extra(draw)}

    return kwargs()


def _table(**strategies: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(strategies)


def _e(kind: str) -> str:
    return f"expect_{kind}"


STRATEGIES: dict[str, st.SearchStrategy] = {
    # table
    _e("table_row_count_to_be_between"): st.builds(
        lambda lo, hi, a, b: {"min_value": lo, "max_value": hi, "strict_min": a,
                              "strict_max": b},
        st.one_of(st.none(), st.integers(0, 10)), st.one_of(st.none(), st.integers(5, 20)),
        strict, strict),
    _e("table_row_count_to_equal"): _table(value=st.integers(0, 16)),
    _e("table_column_count_to_equal"): _table(value=st.integers(13, 15)),
    _e("table_column_count_to_be_between"): _table(
        min_value=st.one_of(st.none(), st.integers(12, 14)),
        max_value=st.one_of(st.none(), st.integers(14, 16))),
    _e("table_columns_to_match_ordered_list"): _table(column_list=st.one_of(
        st.just(COLUMNS), st.permutations(COLUMNS).map(list))),
    _e("table_columns_to_match_set"): _table(
        column_set=st.lists(st.sampled_from([*COLUMNS, "q"]), unique=True),
        exact_match=st.booleans()),
    _e("column_to_exist"): _table(column=st.sampled_from([*ANY_COLUMN, "q"]),
                                  column_index=st.one_of(st.none(), st.integers(0, 5))),
    # column map
    _e("column_values_to_not_be_null"): _column_map(ANY_COLUMN),
    _e("column_values_to_be_null"): _column_map(ANY_COLUMN),
    _e("column_values_to_be_in_set"): _column_map(ANY_COLUMN, lambda d: {
        "value_set": d(value_sets)}),
    _e("column_values_to_not_be_in_set"): _column_map(ANY_COLUMN, lambda d: {
        "value_set": d(value_sets)}),
    _e("column_values_to_be_between"): _comparable(column_map=True),
    _e("column_values_to_match_regex"): _column_map(("s",), lambda d: {"regex": d(regexes)}),
    _e("column_values_to_not_match_regex"): _column_map(("s",), lambda d: {
        "regex": d(regexes)}),
    _e("column_values_to_match_regex_list"): _column_map(("s",), lambda d: {
        "regex_list": d(st.lists(regexes, min_size=1, max_size=3)),
        "match_on": d(st.sampled_from(["any", "all"]))}),
    _e("column_values_to_not_match_regex_list"): _column_map(("s",), lambda d: {
        "regex_list": d(st.lists(regexes, min_size=1, max_size=3))}),
    _e("column_value_lengths_to_be_between"): _column_map(("s",), lambda d: _bounds(
        d, st.one_of(st.none(), st.integers(0, 4)))),
    _e("column_value_lengths_to_equal"): _column_map(("s",), lambda d: {
        "value": d(st.integers(0, 4))}),
    _e("column_values_to_be_of_type"): _column_map(ANY_COLUMN, lambda d: {
        "type_": d(st.sampled_from(["Int64Dtype", "float64", "StringDtype", "int", "str"]))}),
    _e("column_values_to_be_in_type_list"): _column_map(ANY_COLUMN, lambda d: {
        "type_list": d(st.one_of(st.none(), st.lists(st.sampled_from(
            ["Int64Dtype", "float", "StringDtype", "int64"]), max_size=2)))}),
    _e("column_values_to_be_increasing"): _column_map((*NUMERIC, *TIMES), lambda d: {
        "strictly": d(st.sampled_from([None, True, False]))}),
    _e("column_values_to_be_decreasing"): _column_map((*NUMERIC, *TIMES), lambda d: {
        "strictly": d(st.sampled_from([None, True, False]))}),
    _e("column_values_to_be_dateutil_parseable"): _column_map(("s",)),
    _e("column_values_to_match_strftime_format"): _column_map(("s",), lambda d: {
        "strftime_format": d(st.sampled_from(["%Y-%m-%d", "%b %d %Y", "%Y"]))}),
    _e("column_values_to_be_json_parseable"): _column_map(("s",)),
    _e("column_values_to_be_unique"): _column_map(ANY_COLUMN),
    _e("column_pair_values_to_be_equal"): _pairs(),
    _e("column_pair_values_a_to_be_greater_than_b"): _pairs(lambda d: {
        "or_equal": d(st.sampled_from([None, True, False]))}),
    _e("column_pair_values_to_be_in_set"): _pairs(lambda d: {
        "value_pairs_set": d(st.lists(st.tuples(st.integers(-3, 6), st.integers(-3, 6)).map(
            list), min_size=1, max_size=6))}),
    _e("compound_columns_to_be_unique"): _multi(),
    _e("select_column_values_to_be_unique_within_record"): _multi(),
    _e("multicolumn_sum_to_equal"): _multi(lambda d: {"sum_total": d(st.integers(-3, 8))},
                                           pool=("i", "j", "f", "p", "b", "c")),
    # aggregates
    **{
        _e(f"column_{stat}_to_be_between"): _aggregate(NUMERIC, _bounds)
        for stat in ("mean", "sum", "stdev")
    },
    **{_e(f"column_{stat}_to_be_between"): _comparable(column_map=False)
       for stat in ("min", "max", "median")},
    _e("column_quantile_values_to_be_between"): _aggregate(("f", "z", "p", "big", "c"),
                                                           _quantiles),
    _e("column_unique_value_count_to_be_between"): _aggregate(ANY_COLUMN, lambda d: _bounds(
        d, st.one_of(st.none(), st.integers(0, 8)))),
    _e("column_proportion_of_unique_values_to_be_between"): _aggregate(
        ANY_COLUMN, lambda d: _bounds(d, st.sampled_from([None, 0.0, 0.25, 0.5, 1.0]))),
    _e("column_proportion_of_non_null_values_to_be_between"): _aggregate(
        ANY_COLUMN, lambda d: _bounds(d, st.sampled_from([None, 0.0, 0.25, 0.5, 1.0]))),
    **{
        _e(f"column_distinct_values_to_{kind}"): _aggregate(ANY_COLUMN, lambda d: {
            "value_set": d(value_sets)})
        for kind in ("be_in_set", "contain_set", "equal_set")
    },
    _e("column_most_common_value_to_be_in_set"): _aggregate(ANY_COLUMN, lambda d: {
        "value_set": d(value_sets), "ties_okay": d(st.sampled_from([None, True, False]))}),
}


def test_every_expectation_has_a_strategy() -> None:
    assert set(STRATEGIES) | NOT_IN_GE_PANDAS == set(REGISTRY)


def _known_divergence(frame: pd.DataFrame, config: dict[str, Any]) -> bool:
    """GE raises float(NA) on quantiles of a nullable column with no values; we report
    nulls (documented in test_catalogue_aggregates)."""
    column = config["kwargs"].get("column")
    return (config["type"].endswith("quantile_values_to_be_between")
            and column in frame and frame[column].dtype == "Int64"
            and not frame[column].notna().any())


def _squares_overflow(frame: pd.DataFrame, config: dict[str, Any], ge: dict,
                      native: dict) -> bool:
    """A stdev of values whose squares overflow (|x| > 1e154): GE's is inf or null as its
    float sum overflows in row order; assay's is inf (docs/gates.md)."""
    column = config["kwargs"].get("column")
    if not config["type"].endswith("stdev_to_be_between") or \
            not pd.api.types.is_float_dtype(frame[column]):
        return False
    finite = frame[column][np.isfinite(frame[column])]
    if not (finite.abs() > 1e154).any() or not np.isfinite(frame[column].dropna()).all():
        return False
    ours, theirs = native["result"].get("observed_value"), ge["result"].get("observed_value")
    if ours == theirs:
        return False
    assert ours == math.inf and theirs is None, (config, ge, native)
    return True


def _refused_objects(frame: pd.DataFrame, config: dict[str, Any], native: dict) -> bool:
    """Nullable booleans with a null load as objects, whose values GE checks one by one:
    the native dtype check refuses them (test_catalogue_map), it does not guess."""
    column = config["kwargs"].get("column")
    refused = "dtype object" in (native["exception_info"]["exception_message"] or "")
    if refused:
        assert config["type"] in TYPE_CHECKS and frame[column].dtype == "boolean"
        assert frame[column].isna().any()
    return refused


TYPE_CHECKS = {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}


def _as_partitions_hold_it(frame: pd.DataFrame) -> pd.DataFrame:
    """Dask holds "str" columns as NA-valued "string": dtype checks compare that dtype."""
    return dd.from_pandas(frame, npartitions=1).compute()


def _ge_refuses(ge_validate, frame: pd.DataFrame, config: dict[str, Any]) -> bool:
    try:
        ge = ge_validate(frame, config, keep=False)  # generated frames: never recorded
    except Exception:  # GE's config validation raised
        return True
    info = ge["exception_info"]
    return bool(info.get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_agrees_with_ge_on_generated_frames(ge_validate, kind: str) -> None:
    @SETTINGS
    @given(frame=frames(), kwargs=STRATEGIES[kind], parts=st.integers(1, 8))
    def check(frame: pd.DataFrame, kwargs: dict[str, Any], parts: int) -> None:
        config = {"type": kind, "kwargs": kwargs}
        if _known_divergence(frame, config):
            return
        try:
            parse_suite([config], name="generated")
        except SuiteError:  # refused at load: GE must refuse it too
            assert _ge_refuses(ge_validate, frame, config), config
            return
        result, routed = run_native(frame, [config], npartitions=parts)
        native = result.ge_result["results"][0]
        if _refused_objects(frame, config, native):
            return
        seen = _as_partitions_hold_it(frame) if kind in TYPE_CHECKS else frame
        ge = ge_validate(seen, config, keep=False)
        if _squares_overflow(frame, config, ge, native):
            return
        exact = exact_observed(frame, config)
        if exact is not None and not _close(ge["result"].get("observed_value"), exact):
            # GE's sum wrapped or rounded in row order (``exact``): ours is the exact one
            assert _close(native["result"]["observed_value"], exact), (config, native, exact)
            return
        assert_agrees(ge, native, what=config)
        if REGISTRY[kind].row_level and not native["exception_info"]["raised_exception"]:
            assert int(routed["_gate_failed"].sum()) == ge["result"]["unexpected_count"]

    check()
