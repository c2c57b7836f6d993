"""Which uploads ``assay serve`` sends a trigger for again: only those still ``received``
(trigger sent, no run claimed them) longer than the grace period. The whole path, with a
real Prefect server and a lost event, is in tests/orchestration/test_served.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from assay.flows.redeliver import overdue
from assay.pipelines.ledger import Ledger


def test_only_uploads_received_longer_than_the_grace_period_are_overdue(tmp_path: Path
                                                                        ) -> None:
    ledger = Ledger.in_data_dir(tmp_path)
    ids = {state: ledger.register("p", state, 1, f"/x/{state}", state=state)[0].id
           for state in ("received", "pending", "failed", "published")}
    running = ledger.register("p", "running", 1, "/x/running")[0].id
    ledger.claim(running)  # held by this live process
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert [u.id for u in overdue(ledger.history("p"), 60, now=later)] == [ids["received"]]
    assert overdue(ledger.history("p"), 60) == []  # just sent: not yet
