"""Each gate's empty frame, typed as its partitions will be, for checks when a spec loads.

The schema's typed columns go through the steps before the gate as the graph's meta does
(a partition step applied to an empty frame; a global step keeps the columns it names), so
``validation.gate_columns`` can tell which expectations name a column that will not exist
or need numbers where there will be text.
"""

from __future__ import annotations

import pandas as pd

from assay.pipelines.sources.read import schema_meta
from assay.pipelines.spec import PipelineSpec
from assay.transforms.base import Step

Frames = dict[str, tuple[pd.DataFrame, bool] | None]


def gate_frames(spec: PipelineSpec) -> Frames:
    """Per gate name: its empty frame, and whether those are all its columns (not when
    unlisted upload columns are kept, or a global step adds some); None after a step that
    needs a column the schema does not list (a kept upload column): nothing is known."""
    state: tuple[pd.DataFrame, bool] | None = (
        schema_meta(spec), spec.schema_.extra_columns != "keep")
    at: dict[str | None, tuple[pd.DataFrame, bool] | None] = {}
    for step in spec.steps:
        if state is not None:
            state = _after(step, *state)
        at[step.label] = state
    at[None] = state
    return {gate.name: at[gate.after] for gate in spec.gates}


def _after(step: Step, frame: pd.DataFrame, known: bool) -> tuple[pd.DataFrame, bool] | None:
    try:
        if not step.is_global:
            return step.apply(frame).frame, known
        names = step.output_columns(list(frame.columns))
    except ValueError:  # a column only the uploads have (extra_columns: keep)
        return None
    return frame[[n for n in names if n in frame.columns]], known and set(names) <= set(frame)
