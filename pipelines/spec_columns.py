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
from assay.transforms.base import Step


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


Known = tuple[pd.DataFrame, bool] | None


def frames_after_steps(spec: PipelineSpec) -> dict[str | None, Known]:
    """Per step label (None: after the last step): the empty typed frame that step leaves,
    and whether those are all its columns (not when unlisted upload columns are kept, or a
    global step adds some); None after a step that needs a column the schema does not list
    (a kept upload column): nothing is known. StepTypeError for a step that cannot take its
    columns."""
    state: Known = (empty_typed(spec.schema_), spec.schema_.extra_columns != "keep")
    at: dict[str | None, Known] = {}
    for index, step in enumerate(spec.steps):
        if state is not None:
            state = _after(index, step, *state, spec.schema_.extra_columns == "keep")
        at[step.label] = state
    at[None] = state
    return at


def _after(index: int, step: Step, frame: pd.DataFrame, known: bool, kept: bool) -> Known:
    try:
        if not step.is_global:
            return step.apply(frame).frame, known
        names = step.output_columns(list(frame.columns))
        step.check_meta(frame)
    except ValueError as exc:
        if kept:  # it may work on a column only the uploads have
            return None
        raise StepTypeError(index, str(exc)) from None
    return frame[[n for n in names if n in frame.columns]], known and set(names) <= set(frame)


def columns_after_steps(spec: PipelineSpec, after: str | None = None
                        ) -> list[tuple[str, str]] | None:
    """(name, type) of each data column after the step labelled ``after`` (a gate's
    ``after``; None: the last step), in order; None where it cannot be known before a run
    (a step on a column only ``extra_columns: keep`` brings)."""
    known = frames_after_steps(spec)[after]
    if known is None:
        return None
    return [(str(name), spec_type(dtype)) for name, dtype in known[0].dtypes.items()]


def gate_frames(spec: PipelineSpec) -> dict[str, Known]:
    """Per gate name: what ``frames_after_steps`` knows of the frame the gate sees, for
    ``validation.gate_columns`` to tell which expectations name a column that will not
    exist or need numbers where there will be text."""
    at = frames_after_steps(spec)
    return {gate.name: at[gate.after] for gate in spec.gates}
