"""One run of a pipeline, composed in one place: load, lock, plan, execute, publish, report.

Every way of running assay goes through ``run_all``: ``assay.run`` calls it with the plain
phases, the Prefect flow (``assay.flows.ingest``) with the same phases wrapped as tasks for
retries and artifacts. So a plain-Python run holds the dataset's lock and a served run's
paths are confined exactly as a flow run's are, the spec is read once (``load``), and the
backend is resolved once, into the ``RunRequest`` every later phase reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

from assay.pipelines import table as delta
from assay.pipelines.backend import Resolution, resolve_backend
from assay.pipelines.confine import Roots
from assay.pipelines.data_dir import default_data_dir
from assay.pipelines.errors import SpecError
from assay.pipelines.in_process import in_process, runs_in_process, summary_line, thread_count
from assay.pipelines.lock import dataset_lock
from assay.pipelines.plan import RunPlan, plan_run
from assay.pipelines.publish import PublishedVersion, publish_run
from assay.pipelines.retries import with_io_retries
from assay.pipelines.runner import ProgressCallback, StagedRun, execute_run
from assay.pipelines.spec import PipelineSpec, load_spec
from assay.pipelines.summary import RunSummary, summarize


@dataclass(frozen=True)
class RunRequest:
    """What a caller asked for, checked: the loaded spec and the resolved backend.

    ``inputs`` and ``output`` replace the spec's source paths and sink; ``workers`` sizes a
    local cluster, ``cluster_address`` joins a running scheduler instead; ``roots`` (a
    served run) confines every input and the sink; ``data_dir`` holds the dataset locks;
    ``mode`` is what the commit does to the table (``overwrite`` or ``append``).
    """

    spec: PipelineSpec
    backend: Resolution
    inputs: tuple[str, ...] | None = None
    output: str | None = None
    workers: int | None = None
    cluster_address: str | None = None
    roots: Roots | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    mode: str = "overwrite"

    @property
    def sink(self) -> str:
        return self.output or self.spec.resolve(self.spec.sink.path)

    def with_inputs(self, inputs: Sequence[str]) -> RunRequest:
        return replace(self, inputs=tuple(inputs))

    def for_uploads(self) -> RunRequest:
        """The request as upload and scheduled ingestion run it: appending, so every
        version is the whole dataset. A spec that asks to overwrite is refused."""
        if self.spec.sink.mode == "overwrite":
            raise SpecError(f"pipeline {self.spec.name}: sink.mode: overwrite "
                            "would replace the dataset with each upload; uploads and sweeps "
                            "append (remove sink.mode, or set it to append)")
        return replace(self, mode="append")


@dataclass(frozen=True)
class RunResult:
    """What a run published, and its summary."""

    published: PublishedVersion
    summary: RunSummary

    @property
    def version(self) -> int:
        return self.published.version

    @property
    def path(self) -> str:
        return self.published.path

    @property
    def manifest(self) -> dict:
        return self.published.manifest


def load(spec: str | PathLike[str] | PipelineSpec, *, inputs: Sequence[str] | None = None,
         output: str | None = None, backend: str | None = None, workers: int | None = None,
         cluster_address: str | None = None, roots: Roots | None = None,
         data_dir: Path | None = None) -> RunRequest:
    """Phase ``load``: read and check the spec (a path, or a spec already loaded) and
    resolve the backend; raise ``SpecError`` (or ``BackendUnavailable``) before any work."""
    loaded = spec if isinstance(spec, PipelineSpec) else load_spec(spec)
    return RunRequest(
        spec=loaded, backend=resolve_backend(backend or loaded.backend),
        inputs=tuple(inputs) if inputs else None, output=output, workers=workers,
        cluster_address=cluster_address, roots=roots,
        data_dir=data_dir or default_data_dir(), mode=loaded.sink.mode or "overwrite")


def lock(request: RunRequest) -> Any:
    """Phase ``lock``: the dataset's lock, held from planning to publishing, so runs on one
    sink (from any process sharing the data directory) publish one after the other."""
    return dataset_lock(request.sink, request.data_dir)


def published_in(request: RunRequest) -> Callable[[str], int | None]:
    """An upload's sha256 -> the version of the dataset's table whose commit ingested it
    (None: not in the table). The table is read afresh on each call."""
    def lookup(sha256: str) -> int | None:
        table = delta.open_table(request.sink, request.spec.sink.storage_options)
        return delta.committed_in(table, delta.upload_app_id(sha256))

    return lookup


def plan(request: RunRequest) -> RunPlan:
    """Phase ``plan``: expand, hash and sniff the uploads; confine them to ``roots``."""
    return plan_run(request.spec, list(request.inputs) if request.inputs else None,
                    request.output, request.roots, request.mode)


@contextmanager
def cluster(request: RunRequest, client: Any = None, planned: RunPlan | None = None
            ) -> Iterator[Any]:
    """The run's Dask client: ``client`` when the caller has one, else none for a small
    ``planned`` run (computed in this process: ``assay.pipelines.in_process``), else one for
    a local cluster (started and stopped here) or for the scheduler at ``cluster_address``.

    A caller's client is made current for the run, as ``dask_client`` makes its own, so what
    steps compute while the graph is built (near_dedup's rounds) goes to it, not to the
    client made last in this process."""
    if client is not None:
        with client.as_current():
            yield client
        return
    if planned is not None and runs_in_process(request.spec.cluster, planned,
                                               request.backend.backend,
                                               request.cluster_address):
        with in_process(planned, thread_count(request.spec.cluster, request.workers)):
            yield None
        return
    from assay.pipelines.cluster import dask_client  # imports distributed: a cluster's runs

    with dask_client(request.spec.cluster, workers=request.workers,
                     address=request.cluster_address, backend=request.backend.backend,
                     heap_temporaries=any(s.heap_temporaries for s in request.spec.steps)
                     ) as own:
        yield own


def execute(plan: RunPlan, client: Any, backend: str,
            on_progress: ProgressCallback | None = None) -> StagedRun:
    """Phase ``execute``: read, transform, gate and stage shards on the cluster."""
    return execute_run(plan, client, on_progress=on_progress, backend=backend)


def publish(staged: StagedRun) -> PublishedVersion:
    """Phase ``publish``: promote the staged shards to a new version."""
    return publish_run(staged)


def report(staged: StagedRun, published: PublishedVersion,
           phases: dict[str, float]) -> RunSummary:
    """Phase ``report``: the run's summary (and the seconds of each phase outside the engine)."""
    return summarize(staged, published, phases)


_RETRIED_PLAN = with_io_retries(plan)
_RETRIED_EXECUTE = with_io_retries(execute)
_RETRIED_PUBLISH = with_io_retries(publish)


@dataclass(frozen=True)
class Phases:
    """The callables a run goes through, in order: by default the phases above, the ones
    that touch storage retried on transient failures (``assay.pipelines.retries``). The flow
    passes Prefect tasks wrapping the same functions, retried by Prefect; ``load`` and
    ``lock`` run before them, in the caller."""

    plan: Callable[[RunRequest], RunPlan] = _RETRIED_PLAN
    execute: Callable[..., StagedRun] = _RETRIED_EXECUTE
    publish: Callable[[StagedRun], PublishedVersion] = _RETRIED_PUBLISH
    report: Callable[[StagedRun, PublishedVersion, dict[str, float]], RunSummary] = report


def run_all(request: RunRequest, phases: Phases = Phases(),
            on_progress: ProgressCallback | None = None, client: Any = None) -> RunResult:
    """Lock the dataset, plan, execute on the cluster, publish and report one version."""
    with lock(request):
        clock = _PhaseClock()
        planned = phases.plan(request)
        clock.lap("plan")
        with cluster(request, client, planned) as run_client:
            computed_here = client is None and run_client is None
            clock.lap("cluster start")
            staged = phases.execute(planned, run_client, request.backend.backend, on_progress)
            clock.lap("engine")
        clock.lap("cluster stop")
        # The cluster is gone before publishing: a publish is a few renames, no workers.
        published = phases.publish(staged)
        clock.lap("publish")
        # an in-process run had no cluster to start or stop: its summary's cluster row says so
        left_out = ("engine", "cluster start", "cluster stop") if computed_here else ("engine",)
        summary = phases.report(staged, published, clock.outside(*left_out))
        if computed_here:
            threads = thread_count(request.spec.cluster, request.workers)
            summary = replace(summary, cluster=summary_line(threads))
        return RunResult(published, summary)


class _PhaseClock:
    """Seconds per phase of a run, so its summary says where time outside the engine went
    (planning hashes every upload; a cluster of processes takes seconds to start and stop)."""

    def __init__(self) -> None:
        self.mark = time.perf_counter()
        self.phases: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase], self.mark = now - self.mark, now

    def outside(self, *left_out: str) -> dict[str, float]:
        return {name: seconds for name, seconds in self.phases.items() if name not in left_out}
