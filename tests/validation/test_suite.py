"""Loading suites: GE 1.x JSON files and inline configs, and one-line SuiteErrors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assay.validation.suite import SuiteError, load_gate_suite


def _gate(suite: str | None = None, expectations: list[Any] | None = None) -> SimpleNamespace:
    return SimpleNamespace(name="g", suite=suite, expectations=expectations)


def _error(expectations: list[Any]) -> str:
    with pytest.raises(SuiteError) as info:
        load_gate_suite(_gate(expectations=expectations), str)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_loads_a_ge_suite_file_relative_to_the_spec(tmp_path: Path) -> None:
    document = {
        "name": "orders",
        "id": "x",
        "meta": {"great_expectations_version": "1.24.1"},
        "notes": None,
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "meta": {"owner": "me"},
                "id": "1",
                "severity": "critical",
            },
            {
                "expectation_type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 1, "result_format": "COMPLETE"},
            },
        ],
    }
    (tmp_path / "suite.json").write_text(json.dumps(document))
    suite = load_gate_suite(_gate(suite="suite.json"), lambda p: tmp_path / p)
    assert suite.name == "orders"
    assert [e.type for e in suite.expectations] == [
        "expect_column_values_to_not_be_null",
        "expect_table_row_count_to_be_between",
    ]
    assert suite.expectations[0].meta == {"owner": "me"}


def test_inline_expectations_take_the_gate_name() -> None:
    suite = load_gate_suite(
        _gate(expectations=[{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]), str
    )
    assert suite.name == "g" and len(suite.expectations) == 1


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "expectations": [\n    {,]\n}')
    with pytest.raises(SuiteError, match=r"bad\.json: line 3: invalid JSON"):
        load_gate_suite(_gate(suite="bad.json"), lambda p: tmp_path / p)


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"missing\.json: cannot read suite"):
        load_gate_suite(_gate(suite="missing.json"), lambda p: tmp_path / p)


def test_not_a_suite_and_errors_inside_a_file_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SuiteError, match=r"list\.json: not a GE suite"):
        load_gate_suite(_gate(suite="list.json"), lambda p: tmp_path / p)
    (tmp_path / "s.json").write_text(json.dumps({"expectations": [{"type": "expect_x"}]}))
    with pytest.raises(SuiteError, match=r"s\.json: expectations\[0\]: expectation type"):
        load_gate_suite(_gate(suite="s.json"), lambda p: tmp_path / p)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "mn_value": 1},
            },
            "expectations[0] (expect_column_values_to_be_between): unknown key 'mn_value'",
        ),
        (
            {"type": "expect_foo", "kwargs": {}},
            "expectations[0]: expectation type 'expect_foo' is not supported (see docs/gates.md",
        ),
        (
            {"type": "expect_column_values_to_be_nul", "kwargs": {}},
            "not supported (did you mean expect_column_values_to_be_null",
        ),
        (
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "a"}},
            "expectations[0] (expect_column_values_to_be_in_set): missing required key 'value_set'",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a", "mostly": 1.5},
            },
            "(expect_column_values_to_not_be_null): mostly: expected a fraction",
        ),
        (
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}},
            "(expect_column_values_to_be_between): min_value and max_value cannot both be None",
        ),
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": 5, "max_value": 1},
            },
            "min_value (5.0) must not exceed max_value (1.0)",
        ),
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": "soon"},
            },
            "min_value: expected a number or an ISO 8601 date/time, got 'soon'",
        ),
        (
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "a", "regex": "("},
            },
            "(expect_column_values_to_match_regex): regex: invalid regular expression",
        ),
        (
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a"]}},
            "column_list: expected a list of at least two column names",
        ),
        (
            {
                "type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["a", "b"], "ignore_row_if": "sometimes"},
            },
            "ignore_row_if: expected one of all_values_are_missing",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a", "row_condition": "b > 1"},
            },
            "row_condition: is not supported by the native evaluator",
        ),
        (
            {
                "type": "expect_column_value_lengths_to_be_between",
                "kwargs": {"column": "a", "min_value": 1.5},
            },
            "min_value: expected an integer, got 1.5",
        ),
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "min_value": 1, "strict_min": "yes"},
            },
            "(expect_column_values_to_be_between): strict_min: expected true or false, got str",
        ),
        (
            {
                "type": "expect_column_quantile_values_to_be_between",
                "kwargs": {
                    "column": "a",
                    "quantile_ranges": {"quantiles": [1.5], "value_ranges": [[0, 1]]},
                },
            },
            "quantile_ranges.quantiles[0]: expected a fraction between 0 and 1, got 1.5",
        ),
        (
            {"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "color": "red"},
            "expectations[0] (expect_column_to_exist): unknown key 'color'",
        ),
        ({"kwargs": {}}, "expectations[0]: missing key 'type'"),
        ("expect_column_to_exist", "expectations[0]: expected an object, got str"),
    ],
)
def test_suite_errors_name_the_expectation_and_key(item: Any, expected: str) -> None:
    assert expected in _error([item])


def test_the_failing_index_is_named() -> None:
    good = {"type": "expect_column_to_exist", "kwargs": {"column": "a"}}
    bad = {"type": "expect_column_values_to_be_unique", "kwargs": {"colum": "a"}}
    assert _error([good, good, bad]) == (
        "expectations[2] (expect_column_values_to_be_unique): unknown key 'colum'; "
        "missing required key 'column'"
    )


def test_every_refused_expectation_is_named_on_its_own_line(tmp_path: Path) -> None:
    good = {"type": "expect_column_to_exist", "kwargs": {"column": "a"}}
    items = [{"type": "expect_column_values_to_be_fancy"}, good,
             {"type": "expect_column_values_to_be_unique", "kwargs": {"colum": "a"}},
             {"type": "expect_column_values_to_be_unicorn"}]
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"expectations": items}))
    with pytest.raises(SuiteError) as info:
        load_gate_suite(_gate(suite=str(path)), str)
    lines = str(info.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "expectations[0]", "expectations[2] (expect_column_values_to_be_unique)",
        "expectations[3]"]
    assert all(line.startswith(f"{path}: ") for line in lines)
