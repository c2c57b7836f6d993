"""Row accounting: where every input row ended, summed from the partitions' ledgers.

The identity ``rows_read == rows_written + rows_quarantined + rows_dropped`` holds by
construction (every row is in exactly one routed frame row) and is checked anyway before
anything is published.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import pandas as pd

from assay.pipelines.errors import AssayError
from assay.pipelines.routing import DROPPED, QUARANTINED
from assay.transforms.base import REASON_SEP


@dataclass
class Accounting:
    rows_read: int
    rows_written: int
    rows_quarantined: int
    rows_dropped: int
    quarantined_by_reason: dict[str, int]  # "step or gate: reason"; a row may count twice
    quarantined_by_stage: dict[str, int]
    dropped_by_step: dict[str, int]
    rows_by_input: dict[str, int]
    # what steps counted (``StepResult.counts``), e.g. {"pii": {"email": 12, "phone": 3}}
    counts_by_step: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _reason_key(stage: str, reason: str) -> str:
    """A reason as counted: prefixed by the step or gate that gave it, unless it says so."""
    label = stage.removeprefix("gate:")
    return reason if reason.startswith(f"{label}: ") else f"{label}: {reason}"


def accounting_from_ledger(ledger: pd.DataFrame, sources: list[str],
                           counts: dict[str, dict[str, int]] | None = None) -> Accounting:
    rows = ledger[ledger["kind"] == "rows"]
    by_fate = rows.groupby("fate")["rows"].sum()
    quarantined = rows[rows["fate"] == QUARANTINED]
    dropped = rows[rows["fate"] == DROPPED]
    reasons: Counter[str] = Counter()
    for stage, joined, count in quarantined[["stage", "reasons"]].assign(
            rows=quarantined["rows"]).itertuples(index=False):
        for reason in str(joined).split(REASON_SEP):
            reasons[_reason_key(stage, reason)] += int(count)
    by_input = rows.groupby("source_id")["rows"].sum()
    accounting = Accounting(
        rows_read=int(rows["rows"].sum()),
        rows_written=int(by_fate.get("written", 0)),
        rows_quarantined=int(by_fate.get(QUARANTINED, 0)),
        rows_dropped=int(by_fate.get(DROPPED, 0)),
        quarantined_by_reason=dict(sorted(reasons.items())),
        quarantined_by_stage={k: int(v) for k, v in
                              quarantined.groupby("stage")["rows"].sum().items()},
        dropped_by_step={k: int(v) for k, v in dropped.groupby("stage")["rows"].sum().items()},
        rows_by_input={src: int(by_input.get(i, 0)) for i, src in enumerate(sources)},
        counts_by_step=dict(counts or {}),
    )
    total = accounting.rows_written + accounting.rows_quarantined + accounting.rows_dropped
    if total != accounting.rows_read:
        raise AssayError(f"internal: accounting does not add up ({total} != "
                         f"{accounting.rows_read}); nothing published")
    return accounting
