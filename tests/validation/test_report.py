"""The HTML report of a gate (GE's Data Docs renderer, our static fallback) and the rows the
Prefect table artifacts show."""

from __future__ import annotations

import copy
import re
from html import unescape

import pandas as pd
import pytest

from assay.validation import report
from assay.validation.report import render_html
from assay.validation.report_rows import expectation_rows
from assay.validation.report_static import static_html
from tests.validation.conftest import run_native

FRAME = pd.DataFrame({
    "id": [1, 2, 3, 4, 5, 6, 7, 8],
    "country": ["US", "DE", "XX", "FR", "US", "??", "DE", "US"],
    "amount": [1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0],
})
PASSING = [
    {"type": "expect_column_to_exist", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 10}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
]
FAILING = [
    *PASSING,
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "country", "value_set": ["US", "DE", "FR"]}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "missing"}},
]


def _result(configs: list[dict]) -> dict:
    return run_native(FRAME, configs, npartitions=2, gate="quality")[0].ge_result


def _text(html: str) -> str:
    """The visible text: tags and scripts out, entities decoded, whitespace collapsed."""
    html = re.sub(r"<(script|style).*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def passing() -> dict:
    return _result(PASSING)


@pytest.fixture(scope="module")
def failing() -> dict:
    return _result(FAILING)


def test_ge_renders_a_passing_gate(passing: dict) -> None:
    text = _text(render_html(passing))

    assert "Great Expectations" in text  # GE's own page, not the fallback
    assert "Status: Succeeded" in text
    assert "Evaluated Expectations 3" in text and "Successful Expectations 3" in text
    assert "gate quality" in text  # the gate's name as GE's run name
    assert "greater than or equal to 0 and less than or equal to 10" in text


def test_ge_renders_a_failing_gate_with_counts_and_samples(failing: dict) -> None:
    text = _text(render_html(failing))

    assert "Great Expectations" in text
    assert "Status: Failed" in text
    assert "Unsuccessful Expectations 3" in text
    assert "values must belong to this set: US DE FR" in text
    assert "2 unexpected values found" in text and "25% of 8 total rows" in text
    assert "XX" in text and "??" in text  # the sample of unexpected values
    assert 'The column "missing" in BatchData does not exist.' in text  # a raised expectation


def test_falls_back_to_the_static_page_where_ge_cannot_render(failing: dict) -> None:
    unknown = copy.deepcopy(failing)
    unknown["results"][0]["expectation_config"]["type"] = "expect_something_ge_lacks"
    html = render_html(unknown)

    assert html == static_html(unknown)
    assert "expect_something_ge_lacks" in html


def test_running_out_of_memory_while_rendering_is_not_a_fallback(
    failing: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(result: dict) -> str:
        raise MemoryError

    monkeypatch.setattr(report, "_ge_html", out_of_memory)
    with pytest.raises(MemoryError):
        render_html(failing)


def test_static_page_has_each_expectation_its_counts_and_sample(failing: dict) -> None:
    text = _text(static_html(failing))

    assert "gate quality: suite suite" in text and "FAILED: 3 of 6 expectations met" in text
    for config in FAILING:
        assert config["type"] in text
    assert "rows: 8; missing: 0; unexpected: 2 (25%)" in text
    assert "?? (1), XX (1)" in text and "null (1)" in text  # GE orders the counts
    assert "error: Error: The column \"missing\" in BatchData does not exist." in text
    assert "<script" not in static_html(failing)


def test_static_page_escapes_values() -> None:
    result = {"success": False, "suite_name": "<s>", "meta": {"gate": "g"}, "results": [{
        "success": False, "expectation_config": {"type": "t", "kwargs": {"column": "<b>"}},
        "result": {"partial_unexpected_list": ["<script>alert(1)</script>"]},
        "exception_info": {}}]}
    html = static_html(result)

    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_artifact_rows_list_only_failing_expectations(failing: dict, passing: dict) -> None:
    rows = expectation_rows(failing, failing_only=True)

    assert expectation_rows(passing, failing_only=True) == []
    assert [(r["expectation"], r["columns"]) for r in rows] == [
        ("expect_column_values_to_be_in_set", "country"),
        ("expect_column_values_to_not_be_null", "amount"),
        ("expect_column_values_to_not_be_null", "missing"),
    ]
    assert (rows[0]["unexpected_count"], rows[0]["unexpected_percent"]) == (2, 25.0)
    assert (rows[1]["unexpected_count"], rows[1]["unexpected_percent"]) == (1, 12.5)
    assert rows[2]["observed_value"].startswith("error: ")
    assert not any(r["success"] for r in rows)
