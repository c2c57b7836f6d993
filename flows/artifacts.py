"""What a run leaves in Prefect besides its states: its name, the summary as a markdown
artifact keyed by pipeline, and one table artifact per gate listing its failing
expectations.

Keyed ``assay-<pipeline>`` and ``assay-<pipeline>-<gate>``, so the Prefect UI keeps each
one's history across runs. A run a gate aborted returns no StagedRun; its gate results are
read back from where the abort kept them (``_quarantine/<run-id>/validation/``), so the
artifacts explain the abort.

Prefect-free: the ``ingest`` flow hands them to Prefect's artifact functions, a run recorded
through Prefect's REST API (``assay.flows.recorded_run``) posts them itself; both wrap the
engine's phases with ``executing`` and ``reporting``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from assay.flows.summary import to_markdown
from assay.pipelines import compose
from assay.pipelines.errors import GateAborted
from assay.pipelines.plan import RunPlan
from assay.pipelines.publish import PublishedVersion
from assay.pipelines.runner import ProgressCallback, StagedRun
from assay.pipelines.staging import ABORTED, sink_fs
from assay.pipelines.summary import GateOutcome, RunSummary
from assay.pipelines.table import RUNS
from assay.validation.report_rows import expectation_rows

FLOW_NAME = "ingest"  # the flow every run is a run of, recorded or run by Prefect's engine
# the task run of each of the engine's phases (``compose.Phases``' fields), by name
TASK_NAMES = {"plan": "plan-inputs", "execute": "run-engine", "publish": "publish-version",
              "report": "report"}


def flow_run_name(pipeline: str) -> str:
    """``<pipeline>-<UTC time>``, so runs of one pipeline group together in the UI."""
    return f"{pipeline}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def naming_its_flow_run(summary: RunSummary, name: str, flow_run_id: Any) -> RunSummary:
    """``summary`` with the flow run that records it, as its last row shows it."""
    return replace(summary, flow_run=f"{name} ({flow_run_id})")


def outcome_line(summary: RunSummary) -> str:
    """The run's last log line in Prefect: where it published what."""
    return (f"{summary.path}: version {summary.version} ({summary.mode}): "
            f"{summary.rows_read:,} rows read, {summary.rows_written:,} written, "
            f"{summary.quarantined:,} quarantined")


class ArtifactSink(Protocol):
    """Where a run's artifacts go: Prefect's artifact functions, or its REST API."""

    def markdown(self, key: str, markdown: str, description: str) -> None: ...

    def table(self, key: str, rows: list[dict[str, Any]], description: str) -> None: ...

    def warn(self, message: str) -> None:
        """Say that an artifact was not created (the run's own answer stands)."""
        ...


def artifact_key(name: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "assay-" + (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "run")


def gate_artifact_key(pipeline: str, gate: str) -> str:
    return artifact_key(f"{pipeline}-{gate}")


def create_gate_artifacts(sink: ArtifactSink, pipeline: str, gates: list[dict[str, Any]]
                          ) -> list[str]:
    """One table artifact per gate (the run's gate entries, each with its GE-shaped
    ``result``); returns the keys. The description says what the gate did, in the words of
    the CLI and ``assay inspect``."""
    keys = []
    for gate in gates:
        result = gate.get("result") or {}
        stats = result.get("statistics") or {}
        failing = expectation_rows(result, failing_only=True)
        description = (f"{pipeline} gate {gate['name']}: {GateOutcome.from_entry(gate).label()}"
                       f" ({stats.get('unsuccessful_expectations', len(failing))} of "
                       f"{stats.get('evaluated_expectations', 0)} expectations not met)")
        key = gate_artifact_key(pipeline, str(gate["name"]))
        sink.table(key, failing, description)
        keys.append(key)
    return keys


def aborted_gate_results(plan: RunPlan) -> list[dict[str, Any]]:
    """The gate entries an aborted run kept in ``_assay/runs/<run-id>/ABORTED.json``, each
    with its result from ``gates/<gate>.json`` beside it."""
    fs, sink = sink_fs(plan.sink_path, plan.spec.sink.storage_options)
    folder = f"{sink}/{RUNS}/{plan.run_id}"
    if not fs.exists(f"{folder}/{ABORTED}"):
        return []
    gates = []
    for gate in json.loads(fs.cat_file(f"{folder}/{ABORTED}")).get("gates", []):
        path = f"{folder}/gates/{gate['name']}.json"
        if fs.exists(path):
            gates.append({**gate, "result": json.loads(fs.cat_file(path))})
    return gates


def executing(sink: ArtifactSink, execute: Callable[..., StagedRun]) -> Callable[..., StagedRun]:
    """The engine phase ``execute``; a gate abort leaves its gate results as artifacts
    before it is raised, so the Prefect UI explains it."""

    def execute_phase(plan: RunPlan, client: Any, backend: str,
                      on_progress: ProgressCallback | None = None) -> StagedRun:
        try:
            return execute(plan, client, backend, on_progress)
        except GateAborted:
            _abort_artifacts(sink, plan)
            raise

    return execute_phase


def reporting(sink: ArtifactSink) -> Callable[[StagedRun, PublishedVersion, dict[str, float]],
                                              RunSummary]:
    """The summary phase, recorded as a markdown artifact keyed by pipeline, and each gate's
    failing expectations as a table artifact keyed ``assay-<pipeline>-<gate>``."""

    def report(staged: StagedRun, published: PublishedVersion,
               phases: dict[str, float]) -> RunSummary:
        summary = compose.report(staged, published, phases)
        sink.markdown(artifact_key(summary.pipeline), to_markdown(summary),
                      f"{summary.pipeline} version {summary.version}: "
                      f"{summary.rows_written:,} rows")
        create_gate_artifacts(sink, summary.pipeline, staged.gates)
        return summary

    return report


def _abort_artifacts(sink: ArtifactSink, plan: RunPlan) -> None:
    """Gate artifacts of an aborted run, best effort: never mask the abort itself."""
    try:
        create_gate_artifacts(sink, plan.spec.name, aborted_gate_results(plan))
    # Broad on purpose: the abort is the run's answer; an artifact the API refuses (httpx,
    # Prefect's own errors, a refused request) or a half-written gate file must not replace it
    except Exception as exc:
        sink.warn(f"gate artifacts of the aborted run not created: {exc}")
