"""Prefect table artifacts of gate results: one per gate, listing its failing expectations.

Keyed ``assay-<pipeline>-<gate>``, so the Prefect UI keeps each gate's history across runs.
A run a gate aborted returns no StagedRun; its gate results are read back from where the
abort kept them (``_quarantine/<run-id>/validation/``), so the artifacts explain the abort.
"""

from __future__ import annotations

import json
import re
from typing import Any

from prefect.artifacts import create_table_artifact

from assay.pipelines.plan import RunPlan
from assay.pipelines.staging import ABORTED, sink_fs
from assay.pipelines.summary import GateOutcome
from assay.pipelines.table import RUNS
from assay.validation.report_rows import expectation_rows


def artifact_key(name: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "assay-" + (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "run")


def gate_artifact_key(pipeline: str, gate: str) -> str:
    return artifact_key(f"{pipeline}-{gate}")


def create_gate_artifacts(pipeline: str, gates: list[dict[str, Any]]) -> list[str]:
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
        create_table_artifact(table=failing, key=key, description=description)
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
