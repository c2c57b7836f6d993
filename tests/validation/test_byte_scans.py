"""The byte scans give exactly what pandas gives GE (RE2 searches, Arrow's UTF-8 lengths)
on any strings however they are chunked; GE's engine agrees on a gate."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.validation.expectations.byte_scans import byte_test, lengths, search
from tests.validation.conftest import assert_agrees, run_native

# every byte the recognised patterns test, their neighbours, and characters that other
# engines call whitespace (\v, NBSP, em space) or that UTF-8 encodes in several bytes
ALPHABET = "ab <>\t\n\v\f\r.$-^\\]é\u00a0\u2003\U0001f600"
RECOGNISED = ["<", ">", " ", "[<>]", "[.$]", "[ab]", "^\\S+$", "^\\S*$", "^[^<>]+$",
              "^[^ a]*$"]
OTHERS = ["\\s", "^\\S+", "\\S+$", "[^<>]", "[<>]+", "^[<>]$", "a|<", "\\v", "(?m)^\\S+$"]
values = st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=8)), max_size=40)


def _column(items: list[str | None], cuts: list[int], start: int) -> pd.Series:
    """The items as an Arrow-backed string column of several chunks, the first sliced."""
    padded = ["pad"] * start + items
    bounds = sorted({0, len(padded), *(c for c in cuts if c <= len(padded))})
    chunks = [pa.array(padded[a:b], pa.large_string()) for a, b in pairwise(bounds)]
    table = pa.chunked_array(chunks or [pa.array([], pa.large_string())])
    column = pd.Series(pd.arrays.ArrowStringArray(table.slice(start)))
    return column.astype("str")


def test_recognised_patterns() -> None:
    assert all(byte_test(p) is not None for p in RECOGNISED)
    assert all(byte_test(p) is None for p in OTHERS)


@settings(max_examples=300, deadline=None)
@given(items=values, pattern=st.sampled_from(RECOGNISED + OTHERS),
       cuts=st.lists(st.integers(0, 45), max_size=3), start=st.integers(0, 3))
def test_same_answer_as_pandas(items, pattern, cuts, start) -> None:
    column = _column(items, cuts, start)
    present = column.notna().to_numpy()
    expected = column.str.contains(pattern, regex=True).to_numpy()[present].tolist()
    assert search(column, pattern).to_numpy()[present].tolist() == expected


@settings(max_examples=200, deadline=None)
@given(items=values | st.lists(st.one_of(st.none(), st.text("ab <\t", max_size=8))),
       cuts=st.lists(st.integers(0, 45), max_size=3), start=st.integers(0, 3))
def test_lengths_as_pandas(items, cuts, start) -> None:
    column = _column(items, cuts, start)  # ASCII only, or not
    present = column.notna().to_numpy()
    expected = column.str.len().to_numpy()[present].tolist()
    assert lengths(column).to_numpy()[present].tolist() == expected


@pytest.mark.parametrize("npartitions", [1, 3])
def test_gate_agrees_with_ge(ge_validate, npartitions) -> None:
    texts = ["ok", "", " lead", "trail ", "tab\there", "new\nline", "end\n", "v\vtab",
             "nb\u00a0sp", "é<", ">", "<>", None, "plain", "\u2003"]
    frame = pd.DataFrame({"s": pd.Series(texts, dtype="str")})
    configs = [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s",
                                                                   "regex": "^\\S+$"}},
        {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": "s",
                                                                       "regex": "[<>]"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s",
                                                                   "regex": "^[^<>]*$"}},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "s", "min_value": 2, "max_value": 5}},
    ]
    result, _ = run_native(frame, configs, npartitions=npartitions)
    for config, native in zip(configs, result.ge_result["results"], strict=True):
        assert_agrees(ge_validate(frame, config), native, what=config)
