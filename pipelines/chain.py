"""Applying partition steps to a routed partition: rows a step removes are marked in place
with the step's label, reason and (for quarantined or kept rows) their values as JSON; the
next steps still see them but their results for those rows are never read.

Steps that report counts (``StepResult.counts``) have them summed here over the rows live
at the step, as ``{step label: {name: count}}``; ``counted_chain`` hands them to the graph
next to the routed partition."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from assay.pipelines.routing import HIDDEN, QUARANTINED, Mark, data_columns, live_mask, route_out
from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep
from assay.transforms.memo import chain_scope

StepCounts = dict[str, dict[str, int]]  # step label -> count name -> count


def run_chain(part: pd.DataFrame, steps: Sequence[PartitionStep]) -> pd.DataFrame:
    """Apply ``steps`` in order to the data columns of ``part``, routing removed live rows."""
    with chain_scope():  # the steps share what they derive from an unchanged column
        return _chain(part, steps, None)


def counted_chain(part: pd.DataFrame, steps: Sequence[PartitionStep]) -> pd.Series:
    """``run_chain`` for a chain with counting steps: one object holding the routed
    partition and the chain's counts (the graph unpacks it into two lazy results)."""
    counts: StepCounts = {}
    with chain_scope():
        return pd.Series([(_chain(part, steps, counts), counts)], dtype=object)


def merge_counts(parts: Iterable[StepCounts | None]) -> StepCounts:
    """The sum of several ``StepCounts`` (partitions, chains), names in sorted order."""
    total: StepCounts = {}
    for part in parts:
        for label, named in (part or {}).items():
            into = total.setdefault(label, {})
            for name, count in named.items():
                into[name] = into.get(name, 0) + count
    return {label: dict(sorted(named.items())) for label, named in total.items()}


def _chain(part: pd.DataFrame, steps: Sequence[PartitionStep], counts: StepCounts | None
           ) -> pd.DataFrame:
    alive = live_mask(part).to_numpy()
    data = part[data_columns(part)]
    marks: list[Mark] = []
    for step in steps:
        result = step.apply(data)
        if counts is not None and result.counts is not None:
            into = counts.setdefault(step.label, {})
            for name, per_row in result.counts.items():
                found = int(fr.host_numbers(per_row)[alive].sum())
                into[name] = into.get(name, 0) + found
        if result.removed is not None:
            leaving = result.removed.fillna(False).astype(bool).to_numpy() & alive
            if leaving.any():
                keep_record = result.fate == QUARANTINED or step.keep_removed
                marks.append(Mark(
                    leaving, result.fate, step.label,
                    result.reason if result.reason is not None else f"removed by {step.label}",
                    fr.records_as_json(data[leaving]) if keep_record else None))
                alive = alive & ~leaving
        data = result.frame
    return fr.library(part).concat([data, route_out(part[HIDDEN], marks)], axis=1)
