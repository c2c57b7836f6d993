"""Placing a validation gate in the graph: its statistics as a lazy object, and, under the
``quarantine`` policy, routing of rows that fail a row-level expectation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.dataframe as dd
import pandas as pd

from assay.pipelines.routing import (
    LINEAGE,
    QUARANTINED,
    Mark,
    data_columns,
    live_mask,
    route_out,
)
from assay.pipelines.spec import GateSpec, SplitSpec
from assay.transforms import frame as fr
from assay.validation.dask_gate import (
    GateContext,
    answer_requests,
    gate_statistics,
    gate_verdicts,
)
from assay.validation.gate import GateEvaluator
from assay.validation.suite import load_gate_suite


@dataclass
class GatePoint:
    spec: GateSpec
    evaluator: GateEvaluator
    statistics: Any  # lazy: the combined statistics over all live rows at this point

    @property
    def stage(self) -> str:
        return f"gate:{self.spec.name}"


def live_data(part: pd.DataFrame) -> pd.DataFrame:
    """The rows a gate evaluates: live rows, data columns only."""
    return part.loc[live_mask(part).to_numpy(), data_columns(part)]


def _route(part: pd.DataFrame, verdict: pd.Series, stage: str) -> pd.DataFrame:
    """Mark live rows failing a row-level expectation as quarantined by this gate."""
    verdict = verdict.iloc[0]
    failed = verdict.failed.fillna(False).astype(bool).to_numpy()
    if not failed.any():
        return part
    alive = live_mask(part).to_numpy()
    leaving = alive.copy()  # to_numpy() may be a read-only view
    leaving[alive] = failed
    records = fr.records_as_json(part.loc[leaving, data_columns(part)])  # leaving rows only
    return route_out(part, [Mark(leaving, QUARANTINED, stage,
                                 verdict.reasons.reindex(part.index), records)])


def apply_gate(frame: dd.DataFrame, gate: GateSpec, resolve: Callable[[str], str],
               split: SplitSpec | None = None) -> tuple[dd.DataFrame, GatePoint]:
    """The gate's verdicts are evaluated once per partition, on its live rows; statistics
    and (under ``quarantine``) routing both read them, in the run's one graph. ``split``:
    the sink's, which a cross-split expectation assigns to the rows as the sink will."""
    evaluator = GateEvaluator(load_gate_suite(gate, resolve), gate.name, gate.scope)
    rows, columns = frame[live_mask(frame)], data_columns(frame._meta)
    live = rows[columns]
    context = GateContext(rows[[*columns, *LINEAGE]], split)
    answers = answer_requests(live, evaluator.requests, context)
    verdicts = gate_verdicts(frame, evaluator, answers, select=live_data)
    point = GatePoint(gate, evaluator, gate_statistics(verdicts, evaluator))
    if gate.policy == "quarantine":
        frame = frame.map_partitions(_route, verdicts, point.stage, meta=frame._meta,
                                     align_dataframes=False)
    return frame, point
