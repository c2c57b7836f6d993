"""Applying partition steps to a routed partition: steps see only live data columns, and
rows they remove leave with their lineage, the step's label, reason and (for quarantined
or kept rows) their values as JSON."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.routing import (
    LINEAGE,
    QUARANTINED,
    conform,
    data_columns,
    live_mask,
    rejected,
    with_routing,
)
from transforms import frame as fr
from transforms.base import PartitionStep


def run_chain(part: pd.DataFrame, steps: Sequence[PartitionStep],
              out_meta: pd.DataFrame | None = None) -> pd.DataFrame:
    """Apply ``steps`` in order to the live rows of ``part``; ``out_meta`` fixes the output
    columns and dtypes (None when computing that meta from an empty partition)."""
    live = live_mask(part)
    data = part.loc[live, data_columns(part)]
    lineage = part.loc[live, LINEAGE]
    removed_parts = [part[~live]]
    for step in steps:
        before = data
        result = step.apply(before)
        data = result.frame
        if result.removed is None:
            continue
        removed = result.removed.fillna(False).astype(bool).to_numpy()
        if not removed.any():
            continue
        keep_record = result.fate == QUARANTINED or step.keep_removed
        reason = result.reason if isinstance(result.reason, str) or result.reason is None \
            else result.reason[removed]
        removed_parts.append(rejected(
            lineage[removed], result.fate, step.label,
            reason if reason is not None else f"removed by {step.label}",
            fr.records_as_json(before[removed]) if keep_record else None))
        data, lineage = data[~removed], lineage[~removed]
    out = [with_routing(data, lineage), *removed_parts]
    meta = out_meta if out_meta is not None else out[0].iloc[:0]
    return pd.concat([conform(p, meta) for p in out], ignore_index=True)
