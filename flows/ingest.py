"""The ``ingest`` Prefect flow: the engine's run (``assay.pipelines.compose``) with its
phases as Prefect tasks.

The engine composes and does the work and knows nothing of Prefect. The flow adds what an
orchestrator is for: retries of transient I/O, a markdown artifact with the run's summary,
a table artifact per gate with its failing expectations (also when a gate aborts the run:
read back from the gate results the abort keeps), and, for served deployments, the spec
they were served with, the pipeline's roots and the upload ledger. Errors we explain
(``AssayError``) are verdicts on the spec or the data, so they are never retried and reach
the caller unchanged, which maps them to exit codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from assay.flows.artifacts import (
    FLOW_NAME,
    TASK_NAMES,
    executing,
    flow_run_name,
    naming_its_flow_run,
    outcome_line,
    reporting,
)
from assay.flows.uploads import Wanted, ingest_uploads
from assay.pipelines import compose
from assay.pipelines.confine import served_roots
from assay.pipelines.data_dir import default_data_dir
from assay.pipelines.errors import SpecError
from assay.pipelines.ledger import Ledger, landing_folder
from assay.pipelines.retries import IO_RETRIES, IO_RETRY_DELAY_SECONDS, is_transient
from assay.pipelines.runner import ProgressCallback
from assay.pipelines.spec import load_spec, read_yaml
from assay.pipelines.summary import RunSummary


def _retry_on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient storage failures only (``retries.is_transient``): a dropped
    connection or an object store's 5xx may pass, a verdict on the data, a full disk or a
    missing file will not."""
    try:
        state.result()
    except BaseException as exc:  # the task's own error, re-raised by its state
        return is_transient(exc)
    return False


def _pipeline_name(spec_path: str) -> str:
    """The spec's ``name`` without validating the spec (the flow does that and reports it)."""
    try:
        data, _ = read_yaml(Path(spec_path).read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
    except (OSError, yaml.YAMLError):
        name = None
    return name if isinstance(name, str) and name else Path(spec_path).stem


def _deployment_id() -> str | None:
    """The deployment that started this flow run, None for an ad-hoc run: read from the
    run's context. (``prefect.runtime.deployment.id`` asks the server for the flow run
    whenever the answer is None: about 0.5 s of a small ad-hoc run.)"""
    context = FlowRunContext.get()
    found = context.flow_run.deployment_id if context and context.flow_run else None
    return None if found is None else str(found)


def _flow_run_name() -> str:
    spec = flow_run.parameters.get("spec_path", "spec")
    name = spec.spec.name if isinstance(spec, compose.RunRequest) else _pipeline_name(str(spec))
    return flow_run_name(name)


# Tasks take unhashable arguments (a Dask client, a callback) and must rerun every time:
# no result caching.
_TASK_DEFAULTS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
_IO_RETRY: dict[str, Any] = {
    "retries": IO_RETRIES,
    "retry_delay_seconds": IO_RETRY_DELAY_SECONDS,
    "retry_condition_fn": _retry_on_io_error,
}


class _PrefectArtifacts:
    """The run's artifacts through Prefect's artifact functions (in the run's context)."""

    def markdown(self, key: str, markdown: str, description: str) -> None:
        create_markdown_artifact(markdown=markdown, key=key, description=description)

    def table(self, key: str, rows: list[dict[str, Any]], description: str) -> None:
        create_table_artifact(table=rows, key=key, description=description)

    def warn(self, message: str) -> None:
        get_run_logger().warning("%s", message)


_ARTIFACTS = _PrefectArtifacts()


# The engine's phases as Prefect tasks: I/O against the source and the sink is retried
# (the engine is retried whole: each attempt starts from a clean staging; a publish resumes
# where the failed try stopped).
plan_inputs = task(compose.plan, name=TASK_NAMES["plan"], **_TASK_DEFAULTS, **_IO_RETRY)
run_engine = task(executing(_ARTIFACTS, compose.execute), name=TASK_NAMES["execute"],
                  **_TASK_DEFAULTS, **_IO_RETRY)
publish_version = task(compose.publish, name=TASK_NAMES["publish"], **_TASK_DEFAULTS,
                       **_IO_RETRY)
report = task(reporting(_ARTIFACTS), name=TASK_NAMES["report"], **_TASK_DEFAULTS)


def _phases() -> compose.Phases:
    """Looked up at each run, so a test can swap one task for another."""
    return compose.Phases(plan=plan_inputs, execute=run_engine, publish=publish_version,
                          report=report)


@flow(name=FLOW_NAME, flow_run_name=_flow_run_name, log_prints=False)
def ingest(
    spec_path: str | compose.RunRequest,
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

    ``spec_path`` is a spec file's path (a deployment's parameter), or a ``RunRequest`` its
    caller already loaded with ``compose.load`` (``assay run``: the spec is read once, and a
    bad one fails before Prefect starts); the other run parameters then live in it.
    ``inputs`` replace the spec's source paths (paths or globs), ``output`` its sink path;
    ``workers`` sizes the local Dask cluster; ``cluster_address`` uses a running scheduler
    instead. ``on_progress(done, total)`` is called as partitions finish. ``backend``
    (auto, pandas or cudf) replaces the spec's ``backend``.

    Served deployments add the ledger (``assay.flows.uploads``), whatever the parameters:
    ``upload_id`` ingests that upload alone (an intake's trigger), else ``inputs`` become
    uploads and are ingested, else ``sweep`` registers the spec's new source files, and
    every outstanding upload is ingested (a schedule); each is claimed first, so it is
    ingested once. A served run's inputs and sink are confined to the pipeline's roots.
    """
    request = spec_path if isinstance(spec_path, compose.RunRequest) else _load(
        spec_path, inputs, output, workers, cluster_address, backend)
    get_run_logger().info("backend %s (%s)", request.backend.backend, request.backend.reason)

    def run_inputs(paths: list[str] | None) -> RunSummary:
        target = request if paths is None else request.with_inputs(paths)
        summary = compose.run_all(target, _phases(), on_progress).summary
        get_run_logger().info("%s", outcome_line(summary))
        context = FlowRunContext.get()
        if context is None or context.flow_run is None:
            return summary
        return naming_its_flow_run(summary, context.flow_run.name, context.flow_run.id)

    if upload_id is not None or sweep or _deployment_id() is not None:
        request = request.for_uploads()
        if request.roots is not None:  # before any upload is claimed for a refused sink
            request.roots.check_sink(request.sink)
        wanted = Wanted(upload_id, tuple(inputs or ()), sweep)
        return ingest_uploads(request.spec, Ledger.in_data_dir(request.data_dir), run_inputs,
                              compose.published_in(request), wanted, request.roots)
    return run_inputs(None)


def _load(spec_path: str, inputs: list[str] | None, output: str | None, workers: int | None,
          cluster_address: str | None, backend: str | None) -> compose.RunRequest:
    """The load phase of a deployment's run: it reads the spec it was served with, and its
    paths are confined to the pipeline's roots."""
    _check_served_spec(spec_path)
    loaded = load_spec(spec_path)
    data_dir = default_data_dir()
    roots = served_roots(loaded, landing_folder(data_dir, loaded.name)) if _deployment_id() \
        else None
    return compose.load(loaded, inputs=inputs, output=output, backend=backend,
                        workers=workers, cluster_address=cluster_address, roots=roots,
                        data_dir=data_dir)


def _check_served_spec(spec_path: str) -> None:
    """A served deployment's run reads the spec it was served with, whatever its caller
    passed as ``spec_path``."""
    if (deployment_id := _deployment_id()) is None:
        return
    with get_client(sync_client=True) as client:  # the deployment's own, not the run's
        served_by = client.read_deployment(deployment_id)
    served = served_by.parameters.get("spec_path")
    if served is not None and Path(served).resolve() != Path(spec_path).resolve():
        raise SpecError(f"{spec_path}: not the spec of deployment {served_by.name!r} "
                        f"({served}); refused")
