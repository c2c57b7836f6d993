"""Applying partition steps to a routed partition: rows a step removes are marked in place
with the step's label, reason and (for quarantined or kept rows) their values as JSON; the
next steps still see them but their results for those rows are never read."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from assay.pipelines.routing import HIDDEN, QUARANTINED, Mark, data_columns, live_mask, route_out
from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep


def run_chain(part: pd.DataFrame, steps: Sequence[PartitionStep]) -> pd.DataFrame:
    """Apply ``steps`` in order to the data columns of ``part``, routing removed live rows."""
    alive = live_mask(part).to_numpy()
    data = part[data_columns(part)]
    marks: list[Mark] = []
    for step in steps:
        result = step.apply(data)
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
