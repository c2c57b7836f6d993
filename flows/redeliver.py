"""Triggers sent again for uploads that no flow run took: what ``assay serve`` watches.

An intake marks an upload ``received`` once Prefect's server has its event, and the
deployment's trigger is meant to start a flow run for it. Prefect does not promise that it
will: a message whose handling fails its retries ends in the server's dead-letter queue
(Prefect issues 17126 and 21932 report triggers that never fired), and an event sent while
no deployment was served is not replayed. Such an upload waited for the next scheduled
sweep, which a pipeline without a schedule never has. So the serving process looks every
few seconds for uploads of the pipelines it serves that are still ``received`` a while
(``after`` seconds) after their trigger, while their deployment has no flow run waiting or
running, and sends their trigger again. The ledger's claim keeps this exactly once: a
second run for one upload acknowledges it and ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType

from assay.flows.intake import Intake
from assay.pipelines.ledger import Upload

log = logging.getLogger("assay.serve")
_LIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED,
         StateType.CANCELLING]


def overdue(uploads: Iterable[Upload], after: float, now: datetime | None = None
            ) -> list[Upload]:
    """The uploads whose trigger was sent over ``after`` seconds ago and no run claimed."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=after)
    return [u for u in uploads
            if u.state == "received" and datetime.fromisoformat(u.updated_at) < cutoff]


async def _has_a_live_run(pipeline: str) -> bool:
    """Whether a flow run of the pipeline's deployment is scheduled, waiting or running."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[pipeline])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=_LIVE))), limit=1)
    return bool(runs)


async def redeliver(intake: Intake, pipelines: list[str], after: float) -> list[str]:
    """Send again the trigger of each overdue upload of a pipeline whose deployment has no
    flow run scheduled or running (under a burst, Prefect's automations can take longer
    than ``after`` to create the runs: a busy deployment is left to catch up, so resending
    never feeds the backlog); the ids it was sent for."""
    sent = []
    for name in pipelines:
        late = overdue(intake.ledger.outstanding(name), after)
        if not late or await _has_a_live_run(name):
            continue
        for upload in late:
            await intake.trigger(upload, new=False)
            log.warning("upload %s of pipeline %s: no flow run took its trigger within %g s; "
                        "trigger sent again", upload.id, upload.pipeline, after)
            sent.append(upload.id)
    return sent


def start_redelivery(data_dir: Path, pipelines: list[str], after: float) -> threading.Event:
    """Run ``redeliver`` every ``after / 4`` seconds (at least 1) on a daemon thread until
    the returned event is set; a round that fails (no server for a while) is logged, and
    the next one tries again."""
    stop = threading.Event()
    intake = Intake(data_dir)

    def rounds() -> None:
        while not stop.wait(max(1.0, after / 4)):
            try:
                asyncio.run(redeliver(intake, pipelines, after))
            except Exception as exc:  # the next round tries again; serving goes on
                log.warning("looking for uploads no flow run took failed: %s: %s",
                            type(exc).__name__, exc)

    threading.Thread(target=rounds, name="assay-redeliver", daemon=True).start()
    return stop
