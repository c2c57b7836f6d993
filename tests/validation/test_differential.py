"""Every supported expectation and parameter combination against GE's pandas engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.validation.conftest import (
    assert_agrees,
    assert_routes_unexpected,
    ge_answers,
    run_native,
)


def _frame() -> pd.DataFrame:
    n = 9
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, 2, None, 5, -3, 0, 2, 10], dtype="Int64"),
            "i32": pd.array([7, None, 7, 8, 9, 10, 11, 12, None], dtype="Int32"),
            "f": [1.5, np.nan, 3.0, 3.0, -np.inf, 0.0, 2.5, np.nan, 10.0],
            "s": pd.Series(["ab", "", None, "abc", "ab", "xyz", "a1", None, "ab"], dtype="str"),
            "b": pd.array([True, False, None, True, True, False, None, True, False]),
            "t": pd.to_datetime(
                [
                    "2024-01-01",
                    None,
                    "2024-06-01",
                    "2025-01-01",
                    "2023-12-31 23:59:59",
                    "2024-06-01",
                    None,
                    "2030-01-01",
                    "2024-01-01",
                ],
                utc=True,
                format="ISO8601",
            ).as_unit("us"),
            "nf": [np.nan] * n,
            "ns": pd.Series([None] * n, dtype="str"),
            "k1": pd.array([1, 1, None, None, 2, 2, None, 1, 3], dtype="Int64"),
            "k2": pd.Series(["a", "a", None, None, "b", "c", "x", "a", None], dtype="str"),
            "p": np.array([3, 1, 2, 2, 9, -4, 0, 2, 5], dtype="int64"),
            "bn": np.array([True, False, True, True, True, False, False, True, True]),
            "tn": pd.to_datetime(["2024-01-01", None, "2024-06-01", "2025-01-01",
                                  "2024-06-01", "2024-06-01", None, "2030-01-01",
                                  "2023-12-31 23:59:59"], format="ISO8601").as_unit("us"),
            "big": np.array([3 * 10**18] * 4 + [-(3 * 10**18)] * 2 + [7, 8, 3 * 10**18],
                            dtype="int64"),
        }
    )
    frame.index = pd.RangeIndex(5, 5 + 3 * n, 3)  # unique, increasing, not contiguous
    return frame


FRAMES = {"rows": _frame(), "empty": _frame().iloc[:0]}


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


CASES = [
    _e("column_to_exist", column="s"),
    _e("column_to_exist", column="nope"),
    _e("column_to_exist", column="i", column_index=0),
    _e("column_to_exist", column="i32", column_index=1),
    _e("column_to_exist", column="i", column_index=3),
    *[
        _e("column_values_to_not_be_null", column=c, mostly=m)
        for c in ("i", "f", "s", "b", "t", "nf", "ns", "p", "bn", "tn")
        for m in (1.0, 0.75)
    ],
    *[
        _e(f"column_values_to_{kind}", column=c, value_set=["2024-06-01", "2024-01-01T00:00:00",
                                                             "2024-06-01T00:00:00+00:00", 2])
        for kind in ("be_in_set", "not_be_in_set")
        for c in ("t", "tn", "p")
    ],
    *[
        _e(f"column_{stat}_to_be_between", column=c, min_value=bound)
        for stat in ("min", "max")
        for c in ("t", "tn")
        for bound in ("2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00Z")
    ],
    *[
        _e("column_values_to_be_in_type_list", column=c, type_list=names)
        for c in ("p", "bn", "i", "big")
        for names in (["int64"], ["int64", "Int64"], ["int", "float"], ["bool", "boolean"])
    ],
    _e("column_values_to_be_in_set", column="s", value_set=["ab", ""]),
    _e("column_values_to_be_in_set", column="s", value_set=[]),
    _e("column_values_to_be_in_set", column="i", value_set=[1, 2.0, "5"], mostly=0.5),
    _e("column_values_to_be_in_set", column="f", value_set=[3.0, 1.5]),
    _e("column_values_to_be_in_set", column="b", value_set=[True]),
    _e("column_values_to_be_in_set", column="nf", value_set=[1.0]),
    _e("column_values_to_be_in_set", column="ns", value_set=["a"]),
    *[
        _e(
            "column_values_to_be_between",
            column=c,
            min_value=lo,
            max_value=hi,
            strict_min=smin,
            strict_max=smax,
        )
        for c in ("i", "i32", "f", "nf")
        for lo, hi in ((0, 3), (None, 2), (2, None), (2, 2), (-1.5, 10))
        for smin, smax in ((False, False), (True, False), (False, True), (True, True))
    ],
    _e("column_values_to_be_between", column="f", min_value=0, mostly=0.7),
    _e("column_values_to_be_between", column="b", min_value=1),
    _e("column_values_to_be_between", column="t", min_value="2024-06-01T00:00:00+00:00"),
    _e(
        "column_values_to_be_between",
        column="t",
        min_value="2024-01-01T00:00:00Z",
        max_value="2025-01-01T00:00:00Z",
        strict_max=True,
    ),
    _e("column_values_to_be_between", column="t", min_value="2024-06-01"),  # GE raises
    _e("column_values_to_be_between", column="s", min_value=1),  # GE raises
    _e("column_values_to_match_regex", column="s", regex="^ab"),
    _e("column_values_to_match_regex", column="s", regex="b"),
    _e("column_values_to_match_regex", column="s", regex="^$"),
    _e("column_values_to_match_regex", column="s", regex=r"\d", mostly=0.1),
    _e("column_values_to_match_regex", column="i", regex="^2"),
    _e("column_values_to_match_regex", column="ns", regex="a"),
    *[
        _e(
            "column_value_lengths_to_be_between",
            column="s",
            min_value=lo,
            max_value=hi,
            strict_min=smin,
            strict_max=smax,
        )
        for lo, hi in ((1, 2), (None, 2), (2, None), (0, 0))
        for smin, smax in ((False, False), (True, True))
    ],
    _e("column_value_lengths_to_be_between", column="i", min_value=2),
    *[
        _e("column_values_to_be_unique", column=c, mostly=m)
        for c in ("i", "f", "s", "b", "t", "nf", "k1")
        for m in (1.0, 0.5)
    ],
    *[
        _e("compound_columns_to_be_unique", column_list=cols, ignore_row_if=mode)
        for cols in (["k1", "k2"], ["k2", "i"], ["nf", "ns"], ["k1", "k2", "b"])
        for mode in ("all_values_are_missing", "any_value_is_missing", "never")
    ],
    _e("compound_columns_to_be_unique", column_list=["k1", "k2"], mostly=0.5),
    _e("compound_columns_to_be_unique", column_list=["k1", "k2"]),  # GE's default ignore_row_if
    _e("table_row_count_to_be_between", min_value=1, max_value=9),
    _e("table_row_count_to_be_between", min_value=9, strict_min=True),
    _e("table_row_count_to_be_between", max_value=9, strict_max=True),
    _e("table_row_count_to_be_between"),
    *[
        _e(
            "column_mean_to_be_between",
            column=c,
            min_value=lo,
            max_value=hi,
            strict_min=smin,
            strict_max=smax,
        )
        for c in ("i", "i32", "f", "b", "nf", "p", "bn", "big")
        for lo, hi in ((0, 3), (2, None), (None, 2), (None, None))
        for smin, smax in ((False, False), (True, True))
    ],
    _e("column_mean_to_be_between", column="s", min_value=0),  # GE raises
    _e("column_values_to_not_be_null", column="missing"),  # GE raises
    _e("compound_columns_to_be_unique", column_list=["k1", "missing"]),  # GE raises
]


@pytest.fixture(scope="module")
def oracle(ge_validate) -> dict[tuple[str, int], dict[str, Any]]:
    return ge_answers(ge_validate, FRAMES, CASES)


@pytest.mark.parametrize("frame_name", list(FRAMES))
@pytest.mark.parametrize("npartitions", [1, 4])
def test_suite_agrees_with_ge(oracle, frame_name: str, npartitions: int) -> None:
    result, _ = run_native(FRAMES[frame_name], CASES, npartitions=npartitions)
    assert len(result.ge_result["results"]) == len(CASES)
    for i, native in enumerate(result.ge_result["results"]):
        assert_agrees(oracle[(frame_name, i)], native, what=CASES[i])
    expected = [oracle[(frame_name, i)]["success"] for i in range(len(CASES))]
    assert result.success == all(expected)
    stats = result.ge_result["statistics"]
    assert stats["successful_expectations"] == sum(expected)


def test_suite_agrees_with_ge_on_a_cluster(oracle, cluster) -> None:
    result, _ = run_native(FRAMES["rows"], CASES, npartitions=3, scheduler=cluster)
    for i, native in enumerate(result.ge_result["results"]):
        assert_agrees(oracle[("rows", i)], native, what=CASES[i])


def test_routed_rows_are_the_unexpected_ones(oracle) -> None:
    """Each row-level case's flagged rows count equals GE's unexpected_count."""
    assert_routes_unexpected(oracle, "rows", FRAMES["rows"], CASES, npartitions=3)
