"""``assay serve``: one Prefect deployment per pipeline spec, served from this process.

Each deployment (``ingest/<pipeline>``) runs the ``ingest`` flow with the spec's path. Its
schedule (the spec's ``schedule``) runs a sweep: new source files and every outstanding
upload. Its event trigger reacts to ``assay.upload.received`` for its pipeline and ingests
that one upload. Both go through the ledger, so an upload is ingested once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Interval, Schedule

from assay.flows.ingest import ingest
from assay.flows.intake import EVENT
from assay.pipelines.registry import Pipeline
from assay.pipelines.spec import ScheduleSpec


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


def deployment_for(pipeline: Pipeline) -> RunnerDeployment:
    schedule = pipeline.spec.schedule
    return ingest.to_deployment(
        name=pipeline.name,
        parameters={"spec_path": str(pipeline.spec_path), "sweep": True},
        schedules=[schedule_of(schedule)] if schedule else None,
        triggers=[upload_trigger(pipeline.name)],
        tags=["assay"],
        description=f"Ingest uploads of pipeline {pipeline.name} ({pipeline.spec_path})",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_pipelines(pipelines: dict[str, Pipeline], limit: int | None = None,
                    poll_seconds: float = 5, **runner: Any) -> None:
    """Register the deployments and run their flow runs here until interrupted."""
    deployments = [deployment_for(p) for p in pipelines.values()]
    serve(*deployments, limit=limit, query_seconds=poll_seconds, print_starting_message=False,
          **runner)
