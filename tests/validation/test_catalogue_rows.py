"""Ordering, parseability, column-pair and multicolumn expectations against GE's engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from assay.validation.suite import SuiteError, parse_suite
from tests.validation.conftest import (
    assert_agrees,
    assert_routes_unexpected,
    ge_answers,
    run_native,
)

N = 12


def _str(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype="str")


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            # nulls across a whole partition (rows 3-5) at 4 partitions, a dip after it
            "inc": pd.array([1, 2, 3, None, None, None, 2, 5, 5, None, 9, 10], dtype="Int64"),
            "dec": [9.0, 9.0, np.nan, 7.5, 7.5, 3.0, np.nan, np.nan, np.nan, 4.0, 1.0, -np.inf],
            "f": [1.0, np.nan, 1.0, np.inf, np.inf, 3.0, -np.inf, -np.inf, 0.0, 0.0, 2.0, np.nan],
            "i": np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], dtype="int64"),
            "t": pd.to_datetime(
                ["2024-01-01", None, "2024-01-02", "2024-01-02", "2023-12-31", None,
                 "2024-02-01", "2024-03-01", None, "2024-03-01", "2025-01-01", "2024-12-31"],
                utc=True, format="ISO8601",
            ).as_unit("us"),
            "b": pd.array([True, False, None, True, True, False, None, True, False, True,
                           False, True]),
            "d": _str(["2024-01-01", "not a date", None, "", "Jan 5 2023", "12/31/1999",
                       "2024-13-45", "10:30", "yesterday", "2024-01-01", None, "0"]),
            "fmt": _str(["2024-01-01", "2024-1-1", "01/02/2024", None, "", "2024-02-30",
                         "2024-12-31", " 2024-01-01", "2024-01-01 ", "2024-01-01", "x", None]),
            "j": _str(['{"a": 1}', "[1, 2]", "null", "", "{bad}", None, "NaN", '"s"', "1e5",
                       "{'a': 1}", "true", '{"a": 1}']),
            "pa": pd.array([1, 2, None, 4, None, 3, 7, 7, 0, None, 5, 6], dtype="Int64"),
            "pb": [1.0, 3.0, 2.0, np.nan, np.nan, 3.0, 6.0, 8.0, 0.0, np.nan, 5.5, 6.0],
            "pf": [1.0, 2.0, np.nan, 4.0, np.nan, 3.0, 7.0, 7.0, 0.0, np.nan, 5.0, 6.0],
            "ps": _str(["x", "y", None, "x", None, "", "a", "b", "a", None, "z", "z"]),
            "pt": _str(["x", "z", "q", None, None, "", "a", "a", "b", None, "y", "z"]),
            "q1": [1.0, 2.0, np.nan, 4.0, np.nan, 3.0, 7.0, 1.0, 0.0, np.nan, 2.0, 6.0],
            "q2": [3.0, 2.0, 4.0, np.nan, np.nan, 1.0, -3.0, 3.0, 4.0, np.nan, 2.0, -2.0],
            "q3": [0.0, 0.0, 0.0, 0.0, np.nan, 0.0, 0.0, 0.0, 0.0, np.nan, 0.0, 0.0],
            "nf": [np.nan] * N,
            "ns": _str([None] * N),
        }
    )
    frame.index = pd.RangeIndex(5, 5 + 3 * N, 3)
    return frame


FRAMES = {"rows": _frame(), "empty": _frame().iloc[:0], "head": _frame().iloc[:2]}


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


PAIR_MODES = ("both_values_are_missing", "either_value_is_missing", "neither")
LIST_MODES = ("all_values_are_missing", "any_value_is_missing", "never")
CASES = [
    *[
        _e(f"column_values_to_be_{way}", column=c, strictly=s, mostly=m)
        for way in ("increasing", "decreasing")
        for c in ("inc", "dec", "f", "i", "t", "b", "nf")
        for s in (None, False, True)
        for m in (1.0, 0.6)
    ],
    _e("column_values_to_be_increasing", column="ps"),  # GE raises: str has no diff
    _e("column_values_to_be_increasing", column="ns"),
    _e("column_values_to_be_increasing", column="missing"),  # GE raises
    *[_e("column_values_to_be_dateutil_parseable", column=c) for c in ("d", "fmt", "ns")],
    _e("column_values_to_be_dateutil_parseable", column="d", mostly=0.5),
    _e("column_values_to_be_dateutil_parseable", column="i"),  # GE raises: not strings
    *[
        _e("column_values_to_match_strftime_format", column=c, strftime_format=f)
        for c in ("fmt", "d", "ns")
        for f in ("%Y-%m-%d", "%m/%d/%Y", "%Y-%m-%d %H")
    ],
    _e("column_values_to_match_strftime_format", column="fmt", strftime_format="%Y-%m-%d",
       mostly=0.5),
    _e("column_values_to_match_strftime_format", column="t", strftime_format="%Y"),  # raises
    *[_e("column_values_to_be_json_parseable", column=c) for c in ("j", "d", "ns", "i", "f")],
    _e("column_values_to_be_json_parseable", column="j", mostly=0.7),
    *[
        _e(f"column_pair_values_{kind}", column_A=a, column_B=b, ignore_row_if=mode, **extra)
        for kind, extra in (
            ("to_be_equal", {}),
            ("a_to_be_greater_than_b", {}),
            ("a_to_be_greater_than_b", {"or_equal": True}),
            ("a_to_be_greater_than_b", {"or_equal": False}),
        )
        for a, b in (("pf", "pb"), ("ps", "pt"), ("pa", "pf"), ("pa", "pb"), ("nf", "pf"))
        for mode in PAIR_MODES
    ],
    _e("column_pair_values_to_be_equal", column_A="ps", column_B="pt", mostly=0.5),
    _e("column_pair_values_a_to_be_greater_than_b", column_A="pa", column_B="ps"),  # raises
    _e("column_pair_values_to_be_equal", column_A="pa", column_B="missing"),  # raises
    *[
        _e("column_pair_values_to_be_in_set", column_A=a, column_B=b, ignore_row_if=mode,
           value_pairs_set=pairs)
        for a, b in (("pa", "ps"), ("pf", "pt"))
        for mode in PAIR_MODES
        for pairs in (
            [[1, "x"], [None, None], [4, None], [3, ""], [7, "a"], [7.0, "b"]],
            [[None, "q"], [2, "y"], [2.0, "z"]],
            [],
        )
    ],
    *[
        _e(kind, column_list=cols, ignore_row_if=mode, **extra)
        for kind, extra in (
            ("select_column_values_to_be_unique_within_record", {}),
            ("multicolumn_sum_to_equal", {"sum_total": 4}),
            ("multicolumn_sum_to_equal", {"sum_total": 4.0, "mostly": 0.4}),
        )
        for cols in (["q1", "q2"], ["q1", "q2", "q3"], ["pf", "pb"], ["nf", "q3"])
        for mode in LIST_MODES
    ],
    _e("select_column_values_to_be_unique_within_record", column_list=["ps", "pt"]),
    _e("select_column_values_to_be_unique_within_record", column_list=["pa", "pb", "ps"]),
    _e("select_column_values_to_be_unique_within_record", column_list=["pa", "pb"],
       ignore_row_if="never"),
    _e("multicolumn_sum_to_equal", column_list=["pa", "pb"], sum_total=4),  # GE raises (NA)
    _e("multicolumn_sum_to_equal", column_list=["pa", "pb"], sum_total=4,
       ignore_row_if="any_value_is_missing"),
    _e("multicolumn_sum_to_equal", column_list=["i", "q3"], sum_total=5),
]


def _native(frame: pd.DataFrame, npartitions: int, scheduler: Any = "sync") -> list[dict]:
    """All cases in one gate: more row-level expectations than one reason code holds (62)."""
    result, _ = run_native(frame, CASES, npartitions, scheduler)
    return result.ge_result["results"]


@pytest.fixture(scope="module")
def oracle(ge_validate) -> dict[tuple[str, int], dict[str, Any]]:
    return ge_answers(ge_validate, FRAMES, CASES)


@pytest.mark.parametrize("frame_name", list(FRAMES))
@pytest.mark.parametrize("npartitions", [1, 4, 7])
def test_agrees_with_ge(oracle, frame_name: str, npartitions: int) -> None:
    for i, native in enumerate(_native(FRAMES[frame_name], npartitions)):
        assert_agrees(oracle[(frame_name, i)], native, what=CASES[i])


def test_agrees_with_ge_on_a_cluster(oracle, cluster) -> None:
    for i, native in enumerate(_native(FRAMES["rows"], 5, cluster)):
        assert_agrees(oracle[("rows", i)], native, what=CASES[i])


@pytest.mark.parametrize("npartitions", [1, 5])
def test_routed_rows_are_the_unexpected_ones(oracle, npartitions: int) -> None:
    """Per case, the rows the gate routes number GE's unexpected_count."""
    assert_routes_unexpected(oracle, "rows", FRAMES["rows"], CASES, npartitions=npartitions)


@pytest.mark.parametrize(
    "config",
    [
        _e("column_values_to_be_increasing", column="x", parse_strings_as_datetimes=True),
        _e("column_values_to_be_increasing", column="x", strictly="yes"),
        _e("column_values_to_match_strftime_format", column="x", strftime_format="%Q"),
        _e("column_values_to_match_strftime_format", column="x"),
        _e("column_pair_values_to_be_equal", column_A="a", column_B="b", ignore_row_if="never"),
        _e("column_pair_values_to_be_equal", column_A="a", column_B="a"),
        _e("column_pair_values_to_be_in_set", column_A="a", column_B="b",
           value_pairs_set=[[1, 2, 3]]),
        _e("multicolumn_sum_to_equal", column_list=["a", "b"], sum_total=1,
           ignore_row_if="neither"),
        _e("select_column_values_to_be_unique_within_record", column_list=["a", "b"],
           ignore_row_if="both_values_are_missing"),
    ],
)
def test_refused_configs_name_the_key(config: dict[str, Any]) -> None:
    with pytest.raises(SuiteError):
        parse_suite([config], name="s")


def test_json_parseable_takes_what_json_refuses_as_unexpected_as_ge_does() -> None:
    """GE's metric returns False on any error of ``json.loads``; here a value too deeply
    nested (RecursionError), one not a string (TypeError) and bad JSON (ValueError)."""
    import json

    from assay.validation.expectations.parsing import JsonParseable

    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(deep)
    check = JsonParseable({"column": "j"}, {})
    assert [check.parses(v) for v in (deep, 3, "{bad}", b"\xff", "[1]")] == [
        False, False, False, False, True]
