"""Checking a gate's suite against the columns the gate will see, when the spec loads.

A run that evaluates an expectation on a column the steps do not produce, or a numeric
expectation on a column of text, can only fail the gate, and the cause would sit in a
results file. The spec's loader builds the gate's empty frame (the schema's typed columns
through the steps before the gate) and asks here which expectations cannot be evaluated on
it; each answer is one line naming the expectation and the column.
"""

from __future__ import annotations

import difflib
from typing import Any

from assay.transforms.frame import is_string_like
from assay.validation.suite import Suite


def _alternatives(column: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(column, columns, n=1)
    listed = f"its columns: {', '.join(columns) or 'none'}"
    return f"did you mean {close[0]!r}? {listed}" if close else listed


def column_problems(suite: Suite, meta: Any, all_columns_known: bool) -> list[str]:
    """One line per expectation of ``suite`` that names a column ``meta`` (the gate's empty
    frame) lacks, when ``all_columns_known`` (no unlisted upload columns are kept), or
    needs numbers where ``meta`` holds text."""
    problems = []
    for index, expectation in enumerate(suite.expectations):
        where = f"expectations[{index}] ({expectation.type})"
        for column in dict.fromkeys(expectation.columns):
            if column not in meta.columns:
                if all_columns_known:
                    problems.append(f"{where}: column {column!r} does not exist at this gate "
                                    f"({_alternatives(column, list(meta.columns))})")
            elif expectation.numeric and is_string_like(meta[column]):
                problems.append(f"{where}: column {column!r} holds text "
                                f"({meta[column].dtype}); this expectation needs numbers")
    return problems


def split_problems(suite: Suite, split_key: list[str] | None, meta: Any | None,
                   all_columns_known: bool) -> list[str]:
    """One line per expectation of ``suite`` that judges rows by the sink's split when the
    spec has none (``split_key`` None), or when ``meta`` (the gate's empty frame, None when
    unknown) lacks a column of the split's key."""
    problems = []
    for index, expectation in enumerate(suite.expectations):
        if not expectation.uses_split:
            continue
        where = f"expectations[{index}] ({expectation.type})"
        if split_key is None:
            problems.append(f"{where}: needs sink.split: it compares the splits the sink "
                            "assigns, and this spec has none")
            continue
        for column in split_key:
            if meta is not None and all_columns_known and column not in meta.columns:
                problems.append(f"{where}: the split's key column {column!r} does not exist "
                                f"at this gate ({_alternatives(column, list(meta.columns))})")
    return problems
