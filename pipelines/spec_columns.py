"""The columns a spec's steps leave, with their types: what ``assay validate`` shows and
what a gate placed after the last step sees.

No data is read: the schema's empty typed frame (as the reader types it) goes through each
partition step's own ``apply``, as Dask derives a graph's meta; global steps (dedup, shuffle)
keep the columns they are given.
"""

from __future__ import annotations

import pandas as pd

from assay.pipelines.schema import empty_typed
from assay.pipelines.spec import PipelineSpec


def spec_type(dtype: object) -> str:
    """The spec's name for a pandas dtype (``int64``, ``timestamp``, ``string``, ...)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return f"{'int' if pd.api.types.is_integer_dtype(dtype) else 'float'}" \
               f"{pd.api.types.pandas_dtype(dtype).itemsize * 8}"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype)


def columns_after_steps(spec: PipelineSpec, after: str | None = None) -> list[tuple[str, str]]:
    """(name, type) of each data column after the step labelled ``after`` (a gate's
    ``after``; None: the last step), in order. Columns an upload brings under
    ``extra_columns: keep`` are unknown before a run and not listed."""
    frame = empty_typed(spec.schema_)
    for step in spec.steps:
        if not step.is_global:
            frame = step.apply(frame).frame
        if step.label == after:
            break
    return [(str(name), spec_type(dtype)) for name, dtype in frame.dtypes.items()]
