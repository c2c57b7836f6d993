"""GE-shaped result fragments, ported from GE 1.24's formatting so the numbers agree exactly.

Kept free of GE imports: ``_format_map_output`` and ``_validate_metric_value_between`` are
re-implemented here for the BASIC/SUMMARY fields (no index lists: partition indexes are not
row numbers a user could look up).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal
from typing import Any

PARTIAL_UNEXPECTED_COUNT = 20


def jsonable(value: Any) -> Any:
    """A JSON-serialisable copy: nulls (None, NaN, NA, NaT) become None, times ISO strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dt.datetime | dt.date):
        return None if value != value else value.isoformat()  # NaT != NaT
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    try:
        if value != value:  # pd.NA raises on bool(), NaN-likes are unequal to themselves
            return None
    except TypeError:
        return None
    return str(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(value.values())
    return tuple(value) if isinstance(value, list) else value


def partial_unexpected_counts(values: list[Any]) -> list[dict[str, Any]] | None:
    """GE's SUMMARY counts of the partial list; None where GE drops them (unorderable values)."""
    counted = Counter(_hashable(v) for v in values).most_common(PARTIAL_UNEXPECTED_COUNT)
    try:
        ordered = sorted(counted, key=lambda x: (-x[1], x[0]))
    except TypeError:
        return None
    return [{"value": jsonable(value), "count": count} for value, count in ordered]


def map_result(
    element_count: int,
    nonnull_count: int | None,
    unexpected_count: int,
    partial_unexpected_list: list[Any],
) -> dict[str, Any]:
    """The ``result`` of a map expectation; ``nonnull_count`` None skips the missing fields."""
    missing_count = None if nonnull_count is None else element_count - nonnull_count
    missing_percent = unexpected_percent_total = unexpected_percent_nonmissing = None
    if element_count > 0:
        unexpected_percent_total = unexpected_count / element_count * 100
        if missing_count is None:
            unexpected_percent_nonmissing = unexpected_percent_total
        else:
            missing_percent = missing_count / element_count * 100
            if nonnull_count:
                unexpected_percent_nonmissing = unexpected_count / nonnull_count * 100
    values = jsonable(partial_unexpected_list[:PARTIAL_UNEXPECTED_COUNT])
    result: dict[str, Any] = {
        "element_count": element_count,
        "unexpected_count": unexpected_count,
        "unexpected_percent": unexpected_percent_nonmissing,
        "partial_unexpected_list": values,
    }
    if missing_count is not None:
        result["missing_count"] = missing_count
        result["missing_percent"] = missing_percent
        result["unexpected_percent_total"] = unexpected_percent_total
        result["unexpected_percent_nonmissing"] = unexpected_percent_nonmissing
    counts = partial_unexpected_counts(values)
    if counts is not None:
        result["partial_unexpected_counts"] = counts
    return result


def mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GE's rule: vacuously true with nothing to consider, else the passing share >= mostly."""
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def between_outcome(
    observed: Any, min_value: Any, max_value: Any, strict_min: bool, strict_max: bool
) -> dict[str, Any]:
    """GE's ``_validate_metric_value_between`` for numeric metrics (null observed fails)."""
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return {"success": False, "result": {"observed_value": None}}
    above = min_value is None or (observed > min_value if strict_min else observed >= min_value)
    below = max_value is None or (observed < max_value if strict_max else observed <= max_value)
    return {"success": bool(above and below), "result": {"observed_value": jsonable(observed)}}


def failure_cause(outcome: dict[str, Any]) -> str:
    """Why a failed expectation result failed, in words: the evaluation error, the
    unexpected rows or values, the values missing, or the observed value."""
    info = outcome.get("exception_info") or {}
    if info.get("raised_exception"):
        return f"could not be evaluated: {info.get('exception_message') or 'no message'}"
    result = outcome.get("result") or {}
    if result.get("unexpected_count") is not None and result.get("element_count") is not None:
        return f"{result['unexpected_count']} of {result['element_count']} rows unexpected"
    if result.get("unexpected_count"):
        return f"{result['unexpected_count']} values unexpected"
    if result.get("missing_count"):
        return f"{result['missing_count']} values of the set missing"
    observed = result.get("observed_value")
    return "no value observed (no non-null values)" if observed is None else str(observed)


def expectation_label(config: dict[str, Any]) -> str:
    """``type(columns)`` of an expectation config; the bare type when it names none."""
    kwargs = config.get("kwargs") or {}
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    columns += list(kwargs.get("column_list") or [])
    named = ", ".join(map(str, columns))
    return f"{config['type']}({named})" if named else config["type"]
