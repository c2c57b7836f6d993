"""Plain rows of a gate's GE-shaped result, for tables a person reads (Prefect, static HTML).

No GE import: these rows feed the Prefect artifacts of every run, and the fallback report.
"""

from __future__ import annotations

import json
from typing import Any

MAX_CELL = 200  # characters of an observed value or sample shown in one cell


def columns_of(kwargs: dict[str, Any]) -> str:
    """The column(s) an expectation is about, as GE names them in kwargs ('' for a table)."""
    names: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(key), str):
            names.append(kwargs[key])
    if isinstance(kwargs.get("column_list"), list | tuple):
        names += [str(c) for c in kwargs["column_list"]]
    return ", ".join(names)


def short(value: Any) -> str:
    """A one-cell rendering of any JSON value ('' for absent), cut at ``MAX_CELL``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def sample_of(result: dict[str, Any]) -> list[Any]:
    """Some unexpected values: GE's counted partial list where present, else the raw list."""
    counts = result.get("partial_unexpected_counts")
    if counts:
        return [f"{short(c.get('value')) or 'null'} ({c.get('count')})" for c in counts]
    return list(result.get("partial_unexpected_list") or [])


def expectation_rows(ge_result: dict[str, Any], failing_only: bool = False
                     ) -> list[dict[str, Any]]:
    """One row per expectation result: what it checked, whether it held, by how much not."""
    rows = []
    for item in ge_result.get("results") or []:
        if failing_only and item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        result = item.get("result") or {}
        exception = item.get("exception_info") or {}
        percent = result.get("unexpected_percent")
        observed = result.get("observed_value")
        if exception.get("raised_exception"):
            observed = f"error: {exception.get('exception_message') or 'evaluation failed'}"
        rows.append({
            "expectation": str(config.get("type", "")),
            "columns": columns_of(config.get("kwargs") or {}),
            "unexpected_count": result.get("unexpected_count"),
            "unexpected_percent": None if percent is None else round(float(percent), 4),
            "observed_value": short(observed),
            "success": bool(item.get("success")),
        })
    return rows
