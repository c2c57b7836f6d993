"""The HTML report of one gate: a single self-contained page a person opens offline.

What the gate did comes first, in the words the CLI, ``assay inspect`` and the Prefect
artifact use (``passed``, ``quarantined N rows``, ``aborted``, ``warned``), as text and as
colour; then the expectations, those not met first, each with its counts and a sample of its
unexpected values; then the run's accounting (where every input row went).

Why not GE's Data Docs page: GE 1.24's ``DefaultJinjaPageView`` loads its status icons,
styles and logo from CDNs (offline the pass/fail column is blank), carries a newsletter
sign-up form, and shows its own run fields ("Run Time __none__", "Data asset: None") that a
gate's result does not have. This page references nothing outside itself: no scripts, no
links to fetch, inline styles only. It needs no GE import, so a run writes it cheaply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any, NamedTuple

from assay.validation.report_rows import columns_of, sample_of, short


class Verdict(NamedTuple):
    """What the gate did: ``kind`` (passed, quarantined, warned, aborted) picks the colour,
    ``text`` is the words shown (``quarantined 2 rows``)."""

    kind: str
    text: str


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1d1d1f;
max-width:80em}
h1{font-size:1.5em;margin:0 0 .4em}h2{font-size:1.15em;margin:1.6em 0 .5em}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px;white-space:pre-wrap;word-break:break-word}
.verdict{display:inline-block;padding:.35em .8em;border-radius:4px;font-weight:600;
font-size:1.15em;border:2px solid}
.passed,.met{color:#0b6b1f;background:#e6f4e9;border-color:#0b6b1f}
.quarantined,.warned{color:#7a4a00;background:#fff3d6;border-color:#b87400}
.aborted,.unmet,.error{color:#a3001b;background:#fde8eb;border-color:#a3001b}
td.met,td.unmet,td.error{font-weight:600;white-space:nowrap}
"""
_MARKS = {"passed": "✓", "quarantined": "⚠", "warned": "⚠", "aborted": "✗"}
_EXPECTATION_COLUMNS = ("status", "expectation", "column", "scope", "counts",
                        "observed value", "unexpected values (sample)", "arguments")


def render_html(ge_result: dict[str, Any], verdict: Verdict,
                accounting: Mapping[str, Any]) -> str:
    """The whole page for a gate's GE-shaped result, its verdict and the run's accounting
    (``Accounting.as_dict()``)."""
    meta = ge_result.get("meta") or {}
    gate, suite = str(meta.get("gate") or ""), str(ge_result.get("suite_name") or "")
    stats = ge_result.get("statistics") or {}
    met = f"{stats.get('successful_expectations', 0)} of " \
          f"{stats.get('evaluated_expectations', 0)} expectations met"
    mark = _MARKS.get(verdict.kind, "")
    title = f"gate {gate}: {verdict.text}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>gate {escape(gate)} <small>(suite {escape(suite)})</small></h1>",
        f'<p><span class="verdict {escape(verdict.kind)}">{mark} {escape(verdict.text)}'
        f"</span> &nbsp; {escape(met)}</p>",
        "<h2>Expectations, those not met first</h2>",
        _expectations(ge_result.get("results") or []),
        "<h2>Where the run's rows went</h2>",
        _accounting(accounting),
        f"<p><small>evaluated by {escape(str(meta.get('evaluator') or 'assay'))}</small></p>",
        "</body></html>",
        "",
    ])


def _expectations(results: list[dict[str, Any]]) -> str:
    ordered = sorted(results, key=lambda item: bool(item.get("success")))  # stable: suite order
    head = "".join(f"<th>{escape(c)}</th>" for c in _EXPECTATION_COLUMNS)
    rows = "\n".join(_expectation_row(item) for item in ordered)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>"


def _expectation_row(item: dict[str, Any]) -> str:
    config = item.get("expectation_config") or {}
    result = item.get("result") or {}
    kwargs = config.get("kwargs") or {}
    exception = item.get("exception_info") or {}
    observed = short(result.get("observed_value"))
    if exception.get("raised_exception"):
        status, css = "✗ error", "error"
        observed = f"error: {exception.get('exception_message') or 'evaluation failed'}"
    elif item.get("success"):
        status, css = "✓ met", "met"
    else:
        status, css = "✗ not met", "unmet"
    sample = ", ".join("null" if v is None else short(v) for v in sample_of(result))
    arguments = {k: v for k, v in kwargs.items()
                 if k not in ("column", "column_A", "column_B", "column_list")}
    cells = [
        f'<td class="{css}">{status}</td>',
        _td(str(config.get("type", ""))),
        _td(columns_of(kwargs) or "(table)"),
        _td(str((item.get("meta") or {}).get("scope") or "")),
        _td(_counts(result)),
        _td(observed),
        _td(short(sample)),
        f"<td><code>{escape(json.dumps(arguments, default=str, sort_keys=True))}</code></td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


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


def _accounting(accounting: Mapping[str, Any]) -> str:
    """Rows read, then where they went: written, quarantined (by reason), dropped (by step)."""
    rows = [("rows read", accounting.get("rows_read")),
            ("rows written", accounting.get("rows_written")),
            ("rows quarantined", accounting.get("rows_quarantined"))]
    rows += [(f"quarantined: {reason}", n)
             for reason, n in (accounting.get("quarantined_by_reason") or {}).items()]
    rows.append(("rows dropped", accounting.get("rows_dropped")))
    rows += [(f"dropped by {step}", n)
             for step, n in (accounting.get("dropped_by_step") or {}).items()]
    rows += [(f"read from {source}", n)
             for source, n in (accounting.get("rows_by_input") or {}).items()]
    body = "\n".join(f"<tr>{_td(label)}<td class=\"n\">{_number(n)}</td></tr>"
                     for label, n in rows)
    return f"<table><thead><tr><th>what</th><th>rows</th></tr></thead><tbody>\n{body}\n" \
           "</tbody></table>"


def _number(value: Any) -> str:
    return escape(f"{value:,}" if isinstance(value, int) else str(value if value is not None
                                                                  else "?"))


def _td(text: str) -> str:
    return f"<td>{escape(text)}</td>"
