"""A compact, self-contained HTML page of a gate's result: the fallback of ``report``.

Used where GE's Data Docs renderer cannot render a result (an expectation type GE does not
know, a result shape its templates trip on). Same content, per expectation: type, kwargs,
success, counts, percentages, observed value, a sample of unexpected values. No scripts, no
external assets, so it opens offline.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from assay.validation.report_rows import sample_of, short

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left}th{background:#f4f4f4}.ok{color:#176f2c}.fail{color:#b00020}
code{font-size:12px;white-space:pre-wrap}
"""
_COLUMNS = ("status", "expectation", "kwargs", "counts", "observed value",
            "unexpected values (sample)")


def _cell(text: str, raw: bool = False) -> str:
    return f"<td>{text if raw else escape(text)}</td>"


def _counts(result: dict[str, Any]) -> str:
    parts = []
    for key, label in (("element_count", "rows"), ("missing_count", "missing"),
                       ("unexpected_count", "unexpected")):
        value = result.get(key)
        if value is not None:
            parts.append(f"{label}: {value:,}" if isinstance(value, int) else f"{label}: {value}")
    percent = result.get("unexpected_percent")
    if isinstance(percent, int | float) and parts:
        parts[-1] += f" ({percent:.4g}%)"
    return "; ".join(parts)


def _row(item: dict[str, Any]) -> str:
    config = item.get("expectation_config") or {}
    result = item.get("result") or {}
    exception = item.get("exception_info") or {}
    success = bool(item.get("success"))
    status = '<span class="ok">passed</span>' if success else '<span class="fail">FAILED</span>'
    kwargs = json.dumps(config.get("kwargs") or {}, default=str, sort_keys=True)
    observed = short(result.get("observed_value"))
    if exception.get("raised_exception"):
        observed = f"error: {exception.get('exception_message') or 'evaluation failed'}"
    sample = ", ".join(short(v) if v is not None else "null" for v in sample_of(result))
    return "<tr>" + "".join([
        _cell(status, raw=True), _cell(str(config.get("type", ""))),
        _cell(f"<code>{escape(kwargs)}</code>", raw=True), _cell(_counts(result)),
        _cell(observed), _cell(short(sample)),
    ]) + "</tr>"


def static_html(ge_result: dict[str, Any]) -> str:
    """The whole page as one string."""
    meta = ge_result.get("meta") or {}
    title = f"gate {meta.get('gate') or ''}: suite {ge_result.get('suite_name') or ''}"
    stats = ge_result.get("statistics") or {}
    verdict = "passed" if ge_result.get("success") else "FAILED"
    summary = (f"{verdict}: {stats.get('successful_expectations', 0)} of "
               f"{stats.get('evaluated_expectations', 0)} expectations met")
    head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
    rows = "\n".join(_row(item) for item in ge_result.get("results") or [])
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n"
            f"<p class=\"{'ok' if ge_result.get('success') else 'fail'}\">{escape(summary)}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>\n"
            f"<p><small>{escape(str(meta.get('evaluator') or ''))}</small></p></body></html>\n")
