"""The HTML report of a gate (one self-contained page, checked in a real headless Chromium)
and the rows the Prefect table artifacts show."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from assay.validation.report import Verdict, render_html
from assay.validation.report_rows import expectation_rows
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
ACCOUNTING = {
    "rows_read": 10, "rows_written": 5, "rows_quarantined": 3, "rows_dropped": 2,
    "quarantined_by_reason": {"quality: expect_column_values_to_be_in_set(country)": 2,
                              "read: schema: id is not int64": 1},
    "quarantined_by_stage": {"gate:quality": 2, "read": 1},
    "dropped_by_step": {"dedup": 2},
    "rows_by_input": {"uploads/a.csv": 10},
}
VERDICTS = [Verdict("passed", "passed"), Verdict("quarantined", "quarantined 2 rows"),
            Verdict("aborted", "aborted"), Verdict("warned", "warned")]
NETWORK = re.compile(r"https?:|(?:src|href|action)\s*=|url\(|<(?:script|link|img|form|iframe)",
                     re.I)


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


@pytest.mark.parametrize("verdict", VERDICTS, ids=lambda v: v.kind)
def test_the_page_says_what_the_gate_did_as_text_and_colour(failing: dict,
                                                            verdict: Verdict) -> None:
    html = render_html(failing, verdict, ACCOUNTING)

    assert f'<span class="verdict {verdict.kind}">' in html  # the colour, by kind
    assert f"gate quality: {verdict.text}" in _text(html)  # the title
    assert "3 of 6 expectations met" in _text(html)
    assert "Failed" not in html and "__none__" not in html and "None" not in _text(html)


def test_expectations_not_met_come_first_with_counts_and_samples(failing: dict) -> None:
    text = _text(render_html(failing, VERDICTS[1], ACCOUNTING))

    order = [text.index(f"{status} {kind}") for status, kind in [
        ("✗ not met", "expect_column_values_to_be_in_set"),
        ("✗ not met", "expect_column_values_to_not_be_null amount"),
        ("✗ error", "expect_column_values_to_not_be_null missing"),
        ("✓ met", "expect_column_to_exist"),
        ("✓ met", "expect_table_row_count_to_be_between (table)"),
    ]]
    assert order == sorted(order)
    assert "rows: 8; missing: 0; unexpected: 2 (25%)" in text
    assert "?? (1), XX (1)" in text and "null (1)" in text  # GE orders the counts
    assert 'error: Error: The column "missing" in BatchData does not exist.' in text


def test_the_page_carries_the_runs_accounting(passing: dict) -> None:
    text = _text(render_html(passing, VERDICTS[0], ACCOUNTING))

    for line in ("rows read 10", "rows written 5", "rows quarantined 3",
                 "quarantined: read: schema: id is not int64 1", "rows dropped 2",
                 "dropped by dedup 2", "read from uploads/a.csv 10"):
        assert line in text


def test_the_page_references_nothing_outside_itself(failing: dict) -> None:
    html = render_html(failing, VERDICTS[2], ACCOUNTING)

    assert NETWORK.findall(html) == []


def test_the_page_escapes_values() -> None:
    result = {"success": False, "suite_name": "<s>", "meta": {"gate": "g"}, "results": [{
        "success": False, "expectation_config": {"type": "t", "kwargs": {"column": "<b>"}},
        "result": {"partial_unexpected_list": ["<script>alert(1)</script>"]},
        "exception_info": {}}]}
    html = render_html(result, VERDICTS[2], ACCOUNTING)

    assert "<script>alert" not in html and "&lt;script&gt;" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with no network at all (every host resolves nowhere) and a profile
    of its own (tests in parallel each start one)."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install "
                    "chromium); CI installs it in .ci/bootstrap.py")
def test_headless_chromium_shows_each_status(failing: dict, tmp_path: Path) -> None:
    for verdict in VERDICTS:
        page = tmp_path / f"{verdict.kind}.html"
        page.write_text(render_html(failing, verdict, ACCOUNTING), encoding="utf-8")
        shot = tmp_path / f"{verdict.kind}.png"
        _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,900",
                  page.as_uri())
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
        dom = _chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
        text = _text(dom)
        assert f"gate quality (suite suite) {_MARK[verdict.kind]} {verdict.text} " \
               "3 of 6 expectations met" in text
        assert text.index("✗ not met") < text.index("✓ met")
        assert "XX (1)" in text and "rows quarantined 3" in text
        assert NETWORK.findall(dom) == []


_MARK = {"passed": "✓", "quarantined": "⚠", "warned": "⚠", "aborted": "✗"}


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
