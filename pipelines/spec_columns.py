"""The columns a spec's steps leave, with their types: what ``assay validate`` shows and
what a gate placed after the last step sees.

No data is read: the schema's empty typed frame (as the reader types it) goes through each
partition step's own ``apply``, as Dask derives a graph's meta; global steps (dedup, shuffle)
keep the columns they are given. A step that refuses its columns' types there would refuse
them in a run, so loading a spec does this walk (``parse_spec``) and names the step.
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


class StepTypeError(ValueError):
    """A step that cannot take the columns it is given (a string operation on an int64
    column): a spec error, found before any data is read."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"steps[{index}]: {message}")
        self.index = index


def columns_after_steps(spec: PipelineSpec, after: str | None = None
                        ) -> list[tuple[str, str]] | None:
    """(name, type) of each data column after the step labelled ``after`` (a gate's
    ``after``; None: the last step), in order; StepTypeError for a step that cannot take
    its columns. Columns an upload brings under ``extra_columns: keep`` are unknown before
    a run and not listed; None where a step cannot be tried without them."""
    frame = empty_typed(spec.schema_)
    for index, step in enumerate(spec.steps):
        if not step.is_global:
            try:
                frame = step.apply(frame).frame
            except ValueError as exc:
                if spec.schema_.extra_columns == "keep":  # it may work on an extra column
                    return None
                raise StepTypeError(index, str(exc)) from None
        if step.label == after:
            break
    return [(str(name), spec_type(dtype)) for name, dtype in frame.dtypes.items()]
