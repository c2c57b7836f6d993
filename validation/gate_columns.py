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
