"""Placing a validation gate in the graph: its statistics as a lazy object, and, under the
``quarantine`` policy, routing of rows that fail a row-level expectation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.dataframe as dd
import pandas as pd

from pipelines.routing import QUARANTINED, Mark, data_columns, live_mask, route_out
from pipelines.spec import GateSpec
from transforms import frame as fr
from validation.dask_gate import duplicate_values, gate_statistics
from validation.gate import GateEvaluator
from validation.suite import load_gate_suite


@dataclass
class GatePoint:
    spec: GateSpec
    evaluator: GateEvaluator
    statistics: Any  # lazy: the combined statistics over all live rows at this point

    @property
    def stage(self) -> str:
        return f"gate:{self.spec.name}"


def _route(part: pd.DataFrame, evaluator: GateEvaluator, stage: str, keys: list,
           *tables: Any) -> pd.DataFrame:
    """Mark live rows failing a row-level expectation as quarantined by this gate."""
    alive = live_mask(part).to_numpy()
    data = part.loc[alive, data_columns(part)]
    failed, reasons = evaluator.row_failures(data, dict(zip(keys, tables, strict=True)))
    failed = failed.fillna(False).astype(bool).to_numpy()
    if not failed.any():
        return part
    leaving = alive.copy()  # to_numpy() may be a read-only view
    leaving[alive] = failed
    return route_out(part, [Mark(leaving, QUARANTINED, stage, reasons.reindex(part.index),
                                 fr.records_as_json(data[failed]))])


def apply_gate(frame: dd.DataFrame, gate: GateSpec, resolve: Callable[[str], str]
               ) -> tuple[dd.DataFrame, GatePoint]:
    evaluator = GateEvaluator(load_gate_suite(gate, resolve), gate.name)
    live = frame[live_mask(frame)][data_columns(frame._meta)]
    duplicates = duplicate_values(live, evaluator.duplicate_keys)
    point = GatePoint(gate, evaluator, gate_statistics(live, evaluator, duplicates))
    if gate.policy == "quarantine":
        frame = frame.map_partitions(_route, evaluator, point.stage, list(duplicates),
                                     *duplicates.values(), meta=frame._meta,
                                     align_dataframes=False)
    return frame, point
