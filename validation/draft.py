"""Drafting a starting GE 1.x suite from a sample of an upload: what its good rows look like
(after a pipeline's steps, where the draft is made for one: what its gate will see).

Per column: it exists; its type (where ``expect_column_values_to_be_in_type_list`` is
registered, for numbers and booleans: GE has no type name for pandas' ``str`` or tz-aware
timestamp dtypes); not null, with ``mostly`` rounded down from the sample's null rate when that is
at most 5%; min/max of numbers and timestamps; the value set of a string column with at most
20 distinct values (each seen at least twice on average); string lengths. For the table: a
row count between half and twice the sample's (at least the sample's when the sample is not
the whole upload). Only expectation types in ``REGISTRY`` when the draft runs are emitted,
and each is kept only if it loads and holds on the sample itself (checked with the native
evaluator), so the draft passes on the rows it was drawn from by construction. It is a
starting point: a person tightens it (the bounds are today's extremes, outliers included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from assay.validation.draft_read import DraftError, Sample
from assay.validation.expectations import REGISTRY, ConfigError
from assay.validation.gate import GateEvaluator
from assay.validation.suite import parse_suite

SAMPLE_ROWS = 100_000
IN_SET_MAX = 20
NOT_NULL_MAX_RATE = 0.05
# GE's pandas type names for the engine's dtypes of each spec type. No GE type name matches
# pandas 3's ``str`` dtype or a tz-aware timestamp dtype, so those columns get no type check.
_TYPE_LISTS = {
    "int64": ["int64", "int32", "Int64Dtype", "Int32Dtype"],
    "float64": ["float64", "float32", "Float64Dtype"],
    "bool": ["bool", "BooleanDtype"],
}

__all__ = ["SAMPLE_ROWS", "Draft", "DraftError", "draft_suite"]


@dataclass
class Draft:
    suite: dict[str, Any]
    rows: int  # rows in the sample
    whole: bool  # the sample is the whole upload
    skipped: list[str] = field(default_factory=list)  # "type (column): why" of each left out


def draft_suite(sample: Sample, path: str, name: str | None = None,
                spec: str | None = None) -> Draft:
    """Draft the suite of ``sample``, the rows of the upload at ``path`` (after the steps
    of the pipeline ``spec``, where one was given); ``assay.pipelines.draft_sample`` reads
    it."""
    candidates = [_row_count(sample)]
    for column, kind in sample.types.items():
        candidates += _column(column, kind, sample.frame[column])
    kept, skipped = _usable(candidates, sample.frame)
    about: dict[str, Any] = {"upload": path, "sample_rows": len(sample.frame),
                             "sample_is_whole_upload": sample.whole,
                             "column_types": sample.types}
    if spec is not None:
        about["after_the_steps_of"] = spec
    suite = {
        "name": name or _stem(path),
        "expectations": kept,
        "meta": {"great_expectations_version": version("great_expectations"),
                 "assay_draft": about},
        "notes": None,
    }
    return Draft(suite, len(sample.frame), sample.whole, skipped)


def _stem(path: str) -> str:
    name = Path(path).name
    return name.split(".", 1)[0] or "draft"


def _config(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def _row_count(sample: Sample) -> dict[str, Any]:
    rows = len(sample.frame)
    if sample.whole:
        return _config("expect_table_row_count_to_be_between",
                       min_value=max(1, rows // 2), max_value=rows * 2)
    return _config("expect_table_row_count_to_be_between", min_value=rows, max_value=None)


def _column(column: str, kind: str, values: pd.Series) -> list[dict[str, Any]]:
    out = [_config("expect_column_to_exist", column=column)]
    if kind in _TYPE_LISTS:
        out.append(_config("expect_column_values_to_be_in_type_list", column=column,
                           type_list=_TYPE_LISTS[kind]))
    rows, nulls = len(values), int(values.isna().sum())
    if nulls == 0:
        out.append(_config("expect_column_values_to_not_be_null", column=column))
    elif nulls <= NOT_NULL_MAX_RATE * rows:  # mostly: the passing share, down to a percent
        mostly = (100 * (rows - nulls) // rows) / 100
        out.append(_config("expect_column_values_to_not_be_null", column=column, mostly=mostly))
    present = values.dropna()
    if len(present) and kind in ("int64", "float64", "timestamp"):
        out += _bounds(column, kind, present)
    if len(present) and kind == "string":
        distinct = present.unique()
        if len(distinct) <= IN_SET_MAX and 2 * len(distinct) <= len(present):
            out.append(_config("expect_column_values_to_be_in_set", column=column,
                               value_set=sorted(str(v) for v in distinct)))
        lengths = present.str.len()
        out.append(_config("expect_column_value_lengths_to_be_between", column=column,
                           min_value=int(lengths.min()), max_value=int(lengths.max())))
    return out


def _bounds(column: str, kind: str, present: pd.Series) -> list[dict[str, Any]]:
    low, high = present.min(), present.max()
    if kind == "timestamp":  # microseconds, outward, as ISO strings GE and we parse
        low = pd.Timestamp(low).floor("us").isoformat()
        high = pd.Timestamp(high).ceil("us").isoformat()
    elif kind == "int64":
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high)):
            return []  # JSON has no infinity; a person picks bounds here
    return [_config("expect_column_values_to_be_between", column=column,
                    min_value=low, max_value=high)]


def _usable(candidates: list[dict[str, Any]], frame: pd.DataFrame
            ) -> tuple[list[dict[str, Any]], list[str]]:
    """Registered, loading, and holding on the sample itself; the rest are named as skipped."""
    loaded, skipped = [], []
    for config in candidates:
        label = f"{config['type']} ({config['kwargs'].get('column', 'table')})"
        cls = REGISTRY.get(config["type"])
        if cls is None:
            skipped.append(f"{label}: not supported by this assay")
            continue
        try:
            cls(config["kwargs"], config["meta"])
        except ConfigError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        loaded.append(config)
    evaluator = GateEvaluator(parse_suite(loaded, name="draft"), "draft")
    stats = evaluator.combine([evaluator.evaluate(frame, {}).stats])
    outcomes = evaluator.result(stats).ge_result["results"]
    kept = []
    for config, outcome in zip(loaded, outcomes, strict=True):
        if outcome["success"]:
            kept.append(config)
        else:
            column = config["kwargs"].get("column", "table")
            skipped.append(f"{config['type']} ({column}): does not hold on the sample")
    return kept, skipped
