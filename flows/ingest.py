"""The ``ingest`` Prefect flow: plan, run the engine on a Dask cluster, publish, report.

The engine (``pipelines``) does the work and knows nothing of Prefect. The flow adds what an
orchestrator is for: retries of transient I/O, the cluster's lifetime, a markdown artifact
with the run's summary, and a table artifact per gate with its failing expectations (also
when a gate aborts the run: read back from the gate results the abort keeps). Errors we
explain (``AssayError``) are verdicts on the spec or the data, so they are never retried
and reach the caller unchanged, which maps them to exit codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from assay.flows.gate_artifacts import aborted_gate_results, artifact_key, create_gate_artifacts
from assay.flows.summary import RunSummary, summarize, to_markdown
from assay.flows.uploads import ingest_uploads
from assay.pipelines.backend import resolve_backend
from assay.pipelines.cluster import dask_client
from assay.pipelines.confine import Roots, served_roots
from assay.pipelines.errors import AssayError, GateAborted, SpecError, TransientStorageError
from assay.pipelines.ledger import Ledger, default_data_dir, landing_folder
from assay.pipelines.lock import dataset_lock
from assay.pipelines.plan import RunPlan, plan_run
from assay.pipelines.publish import PublishedVersion, publish_run
from assay.pipelines.runner import StagedRun, execute_run
from assay.pipelines.spec import PipelineSpec, load_spec
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.logging import get_run_logger
from prefect.runtime import deployment, flow_run

ProgressCallback = Callable[[int, int], None]

IO_RETRIES = 2
IO_RETRY_DELAY_SECONDS = 2


def _retry_on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient storage failures only: a dropped connection or an object store's
    5xx may pass, a verdict on the data, a full disk or a missing file will not."""
    try:
        state.result()
    except TransientStorageError:
        return True
    except AssayError:
        return False
    except OSError:
        return True
    except BaseException:
        return False
    return False


def _pipeline_name(spec_path: str) -> str:
    """The spec's ``name`` without validating the spec (the flow does that and reports it)."""
    try:
        data = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
    except (OSError, yaml.YAMLError):
        name = None
    return name if isinstance(name, str) and name else Path(spec_path).stem


def _flow_run_name() -> str:
    """``<pipeline>-<UTC time>``, so runs of one pipeline group together in the UI."""
    name = _pipeline_name(str(flow_run.parameters.get("spec_path", "spec")))
    return f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


# Tasks take unhashable arguments (a Dask client, a callback) and must rerun every time:
# no result caching.
_TASK_DEFAULTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
_IO_RETRY: dict[str, Any] = {
    "retries": IO_RETRIES,
    "retry_delay_seconds": IO_RETRY_DELAY_SECONDS,
    "retry_condition_fn": _retry_on_io_error,
}


@task(name="plan-inputs", **_TASK_DEFAULTS, **_IO_RETRY)
def plan_inputs(spec: PipelineSpec, inputs: list[str] | None, output: str | None,
                roots: Roots | None = None) -> RunPlan:
    """Expand, hash and sniff the uploads (I/O against the source: retried on OSError)."""
    return plan_run(spec, inputs=inputs, output=output, roots=roots)


@task(name="run-engine", **_TASK_DEFAULTS, **_IO_RETRY)
def run_engine(
    plan: RunPlan, client: Any, on_progress: ProgressCallback | None = None,
    backend: str = "pandas",
) -> StagedRun:
    """Read, transform, gate and stage shards on the cluster (one Dask graph). Retried
    whole on a transient storage failure: each attempt starts from a clean staging."""
    return execute_run(plan, client, on_progress=on_progress, backend=backend)


@task(name="publish-version", **_TASK_DEFAULTS, **_IO_RETRY)
def publish_version(staged: StagedRun) -> PublishedVersion:
    """Promote the staged shards to a new version. Readers never see a half-published
    version; a retry resumes where the failed try stopped (``pipelines/publish.py``)."""
    return publish_run(staged)


@task(name="report", **_TASK_DEFAULTS)
def report(staged: StagedRun, published: PublishedVersion,
           phases: dict[str, float] | None = None) -> RunSummary:
    """Record the run's summary as a markdown artifact, keyed by pipeline, and each gate's
    failing expectations as a table artifact keyed ``assay-<pipeline>-<gate>``."""
    summary = summarize(staged, published, phases)
    create_markdown_artifact(
        markdown=to_markdown(summary),
        key=artifact_key(summary.pipeline),
        description=f"{summary.pipeline} {summary.version}: {summary.rows_written:,} rows",
    )
    create_gate_artifacts(summary.pipeline, staged.gates)
    return summary


def _report_abort(plan: RunPlan) -> None:
    """Gate artifacts of an aborted run, best effort: never mask the abort itself."""
    try:
        create_gate_artifacts(plan.spec.name, aborted_gate_results(plan))
    except Exception as exc:
        get_run_logger().warning("gate artifacts of the aborted run not created: %s", exc)


@flow(name="ingest", flow_run_name=_flow_run_name, log_prints=False)
def ingest(
    spec_path: str,
    inputs: list[str] | None = None,
    output: str | None = None,
    workers: int | None = None,
    cluster_address: str | None = None,
    on_progress: ProgressCallback | None = None,
    backend: str | None = None,
    upload_id: str | None = None,
    sweep: bool = False,
) -> RunSummary | None:
    """Ingest uploads per the spec at ``spec_path`` and publish a new dataset version.

    ``inputs`` replace the spec's source paths (paths or globs), ``output`` its sink path;
    ``workers`` sizes the local Dask cluster; ``cluster_address`` uses a running scheduler
    instead. ``on_progress(done, total)`` is called as partitions finish. ``backend``
    (auto, pandas or cudf) replaces the spec's ``backend``.

    Served deployments add the ledger (``flows/uploads.py``): ``upload_id`` ingests that
    upload (an intake's trigger), ``sweep`` the spec's new source files and every
    outstanding upload (a schedule); each is claimed first, so it is ingested once. Every
    run holds the dataset's lock: versions of one dataset are published one at a time.
    """
    _check_served_spec(spec_path)
    spec = load_spec(spec_path)
    data_dir = default_data_dir()
    roots = served_roots(spec, landing_folder(data_dir, spec.name)) if deployment.id else None

    def run_inputs(paths: list[str] | None) -> RunSummary:
        with dataset_lock(output or spec.resolve(spec.sink.path), data_dir):
            return _ingest_inputs(spec, paths, output, workers, cluster_address, on_progress,
                                  backend, roots)

    if upload_id is not None or sweep:
        return ingest_uploads(spec, Ledger.in_data_dir(data_dir), run_inputs, upload_id, sweep)
    return run_inputs(inputs)


def _check_served_spec(spec_path: str) -> None:
    """A served deployment's run reads the spec it was served with, whatever its caller
    passed as ``spec_path``."""
    if deployment.id is None:
        return
    with get_client(sync_client=True) as client:  # the deployment's own, not the run's
        served = client.read_deployment(deployment.id).parameters.get("spec_path")
    if served is not None and Path(served).resolve() != Path(spec_path).resolve():
        raise SpecError(f"{spec_path}: not the spec of deployment {deployment.name!r} "
                        f"({served}); refused")


def _ingest_inputs(
    spec: PipelineSpec,
    inputs: list[str] | None,
    output: str | None,
    workers: int | None,
    cluster_address: str | None,
    on_progress: ProgressCallback | None,
    backend: str | None,
    roots: Roots | None,
) -> RunSummary:
    """Plan, run the engine, publish and report one version (a served run's inputs and
    sink confined to ``roots``)."""
    chosen = resolve_backend(backend or spec.backend)
    get_run_logger().info("backend %s (%s)", chosen.backend, chosen.reason)
    clock = _PhaseClock()
    plan = plan_inputs(spec, inputs, output, roots)
    clock.lap("plan")
    with dask_client(spec.cluster, workers=workers, address=cluster_address,
                     backend=chosen.backend) as client:
        clock.lap("cluster start")
        try:
            staged = run_engine(plan, client, on_progress, chosen.backend)
        except GateAborted:
            _report_abort(plan)
            raise
        clock.lap("engine")
    clock.lap("cluster stop")
    # The cluster is gone before publishing: publishing is a few renames and needs no workers.
    published = publish_version(staged)
    clock.lap("publish")
    return report(staged, published, clock.outside("engine"))


class _PhaseClock:
    """Seconds per phase of a run, so its summary says where time outside the engine went
    (planning hashes every upload; a cluster of processes takes seconds to start and stop)."""

    def __init__(self) -> None:
        self.mark = time.perf_counter()
        self.phases: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase], self.mark = now - self.mark, now

    def outside(self, phase: str) -> dict[str, float]:
        return {name: seconds for name, seconds in self.phases.items() if name != phase}
