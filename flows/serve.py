"""``assay serve``: one Prefect deployment per pipeline spec, served from this process.

Each deployment (``ingest/<pipeline>``) runs the ``ingest`` flow with the spec's path. Its
schedule (the spec's ``schedule``) runs a sweep: new source files and every outstanding
upload. Its event trigger reacts to ``assay.upload.received`` for its pipeline and ingests
that one upload. Both go through the ledger, so an upload is ingested once.

The deployments are added with the flow itself (``Runner.add_flow``, not a deployment that
names its entrypoint), so the runner starts each run from that flow object: in a process
of its own, forked from one that imported assay when serving started (``forked_runs``). A
Prefect without that fork's override point gets the entrypoint deployments, whose runs
import assay in a fresh process each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prefect.deployments.runner import EntrypointType
from prefect.events import DeploymentEventTrigger
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner
from prefect.schedules import Cron, Interval, Schedule

from assay.flows.forked_runs import forked_flow_runs
from assay.flows.ingest import ingest
from assay.flows.intake import EVENT
from assay.pipelines.registry import Pipeline
from assay.pipelines.spec import ScheduleSpec

logger = logging.getLogger(__name__)


def schedule_of(spec: ScheduleSpec) -> Schedule:
    if spec.cron is not None:
        return Cron(spec.cron, timezone=spec.timezone)
    return Interval(timedelta(seconds=spec.interval or 0), timezone=spec.timezone)


def upload_trigger(pipeline: str) -> DeploymentEventTrigger:
    """Run the deployment for each upload event of this pipeline, with its upload id."""
    return DeploymentEventTrigger(
        name=f"{pipeline} uploads",
        expect={EVENT},
        match={"prefect.resource.id": "assay.upload.*", "assay.pipeline": pipeline},
        parameters={"upload_id": "{{ event.payload.upload_id }}", "sweep": False},
    )


def deployment_options(pipeline: Pipeline) -> dict[str, Any]:
    """``Runner.add_flow``'s options for the pipeline's deployment of ``ingest``."""
    schedule = pipeline.spec.schedule
    return {
        "name": pipeline.name,
        "parameters": {"spec_path": str(pipeline.spec_path), "sweep": True},
        "schedules": [schedule_of(schedule)] if schedule else None,
        "triggers": [upload_trigger(pipeline.name)],
        "tags": ["assay"],
        "description": f"Ingest uploads of pipeline {pipeline.name} ({pipeline.spec_path})",
        "entrypoint_type": EntrypointType.MODULE_PATH,
    }


def serve_pipelines(pipelines: dict[str, Pipeline], announce: Callable[[str], None],
                    limit: int | None = None, poll_seconds: float = 1,
                    **runner_options: Any) -> None:
    """Register the deployments and run their flow runs here until interrupted;
    ``announce`` gets a line per deployment once it is registered (each takes a second or
    more on a SQLite Prefect server), then one when all are."""
    runner = Runner(limit=limit, query_seconds=poll_seconds, **runner_options)
    with forked_flow_runs() as forked:
        for pipeline in pipelines.values():
            options = deployment_options(pipeline)
            if forked:
                runner.add_flow(ingest, **options)
            else:  # Prefect then imports the flow by its module path in a fresh process
                runner.add_deployment(ingest.to_deployment(**options))
            announce(f"serving deployment ingest/{pipeline.name}")
        announce(f"ready: {len(pipelines)} deployment(s), looking for runs every "
                 f"{poll_seconds:g} s, at most {limit or 'any number of'} at once")
        try:
            asyncio.run(runner.start())
        except (KeyboardInterrupt, TerminationSignal) as stopped:
            logger.info("%s: stopped serving", type(stopped).__name__)
