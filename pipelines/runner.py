"""Running a planned pipeline on a Dask client: one graph, one persist, staging written.

``execute_run`` writes curated shards and the quarantine to ``_assay/staging/<run-id>/`` and
returns what publishing needs; nothing is visible to readers until ``publish_run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.pipelines import dedup_index, in_process, published_texts
from assay.pipelines import staging as staging_area
from assay.pipelines import table as delta
from assay.pipelines.accounting import Accounting, accounting_from_ledger
from assay.pipelines.chain import merge_counts
from assay.pipelines.errors import GateAborted, StorageError, UploadRejected, storage_failure
from assay.pipelines.graph import build_graph
from assay.pipelines.plan import RunPlan
from assay.pipelines.routing import data_columns
from assay.pipelines.sink.finish import LEDGER_META, finish_partition
from assay.pipelines.sink.shards import arrow_schema
from assay.pipelines.sources.read import read_uploads
from assay.pipelines.summary import GateOutcome
from assay.transforms import frame as fr
from assay.transforms.exchange import ShuffleStorageError
from assay.validation.results import expectation_label, failure_cause

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from distributed import Client, as_completed

    from assay.pipelines import gate_scope

ProgressCallback = Callable[[int, int], None]


@dataclass
class StagedRun:
    plan: RunPlan
    staging_path: str
    schema: Any  # pyarrow schema of the curated shards
    shards: list[dict]
    quarantine: list[dict]
    accounting: Accounting
    gates: list[dict]
    backend: str
    wall_seconds: float
    warnings: list[str] = field(default_factory=list)


def execute_run(plan: RunPlan, client: Client | None, on_progress: ProgressCallback | None = None,
                backend: str = "pandas") -> StagedRun:
    """Build and run the graph (on ``client``'s cluster; None: in this process); raise
    UploadRejected or GateAborted with one clear line.

    ``backend`` (resolved: ``pandas`` or ``cudf``) is the library of the partitions the
    readers make (on cuDF, plain CSV blocks are parsed on the device, the rest on the host,
    which gives line numbers and reasons for every bad record)."""
    started = time.perf_counter()
    spec = plan.spec
    frame = read_uploads(plan, backend)
    # the version an append adds to, opened once for the checks, the indexes and the gates
    table = delta.open_table(plan.sink_path, spec.sink.storage_options) \
        if plan.mode == "append" else None
    published = dedup_index.published(plan, table) | published_texts.published(plan, table)
    graph = build_graph(frame, spec, spec.resolve,
                        input_bytes=sum(upload.found.size for upload in plan.inputs),
                        published=published)
    meta = fr.to_pandas(graph.frame._meta)
    schema = arrow_schema(meta[data_columns(meta)])
    indexed = dedup_index.indexed_steps(spec, data_columns(meta), plan.run_id)
    if plan.mode == "append":  # before any work: an append cannot change the columns
        delta.check_same_columns(table, plan.sink_path,
                                 delta.table_schema(schema, spec.sink.split is not None))
        dedup_index.check_keys(indexed, published)
    staging = staging_area.prepare(plan)
    dedup_index.stage_markers(*staging_area.sink_fs(staging, spec.sink.storage_options),
                              indexed)
    sources = [upload.url for upload in plan.inputs]
    ledger_frame = graph.frame.map_partitions(
        finish_partition, staging, spec.sink, schema, sources, tuple(indexed),
        meta=LEDGER_META)
    stats = [point.statistics for point in graph.gates]
    try:
        ledger, *rest = _compute(client, [ledger_frame, *stats, *graph.counts], on_progress)
    except (UploadRejected, StorageError):
        staging_area.discard(staging, spec.sink.storage_options)
        raise
    except ShuffleStorageError as exc:  # the shuffle's folder: full, or gone
        staging_area.discard(staging, spec.sink.storage_options)
        cause = OSError(exc.errno, exc.strerror)  # the errno's own class, without the path
        raise storage_failure(exc.filename, "the dedup's shuffle through files", cause) from exc
    gate_stats, counts = rest[:len(stats)], rest[len(stats):]
    ledger = pd.DataFrame(ledger) if not isinstance(ledger, pd.DataFrame) else ledger
    accounting = accounting_from_ledger(ledger, sources, merge_counts(counts))
    if accounting.rows_read == 0:
        staging_area.discard(staging, spec.sink.storage_options)
        raise UploadRejected(f"{', '.join(sources)}: no data rows in any input")
    gates, datasets = _judge(plan, table, staging, graph.gates, gate_stats)
    staged = StagedRun(
        plan=plan, staging_path=staging, schema=schema,
        shards=_entries(ledger, "shard"), quarantine=_entries(ledger, "quarantine"),
        accounting=accounting,
        gates=[_gate_summary(point, result, dataset, accounting)
               for point, result, dataset in zip(graph.gates, gates, datasets, strict=True)],
        backend=fr.backend_name(graph.frame._meta), wall_seconds=time.perf_counter() - started,
    )
    for gate, gate_spec in zip(staged.gates, spec.gates, strict=True):
        gate["aborted"] = _abort_reason(gate, gate_spec, accounting)
        gate["outcome"] = GateOutcome.from_entry(gate).kind  # for readers of the manifest
    staging_area.write_gate_results(staging, staged.gates, accounting,
                                    spec.sink.storage_options)
    _enforce_policies(staged)
    return staged


def _compute(client: Client | None, collections: list, on_progress: ProgressCallback | None
             ) -> list:
    """Persist; take the first collection's partitions as they finish (progress is reported
    per partition), then gather the rest. Without a client (a small run), compute them in
    this process (``assay.pipelines.in_process``).

    A worker keeps the tasks a result it holds came from, so ledger partitions held until
    the end grew each worker's memory with the input (a stall: ``benchmarks/RESULTS.md``):
    each is fetched and let go as it finishes. A failure cancels the run's tasks on the
    scheduler: a retry builds the same keys, and must compute them again rather than be
    handed the errors the scheduler still holds."""
    if client is None:
        return in_process.compute(collections, on_progress)
    from distributed import Future, as_completed, futures_of

    first, *rest = client.persist(collections)
    futures = futures_of(first)
    keys = sorted((future.key for future in futures), key=lambda key: key[1])  # (name, i)
    pending = as_completed(futures)
    del first, futures
    try:
        parts = _take(pending, len(keys), on_progress)
        return [pd.concat([parts[key] for key in keys]), *client.compute(rest, sync=True)]
    except BaseException:
        client.cancel([Future(key, client) for key in keys] + futures_of(rest), force=True)
        raise


def _take(pending: as_completed, total: int, on_progress: ProgressCallback | None
          ) -> dict:
    """Each partition's result by key; the first error is raised at once, rather than after
    the other partitions ran into it too (a full disk)."""
    if on_progress:
        on_progress(0, total)
    parts = {}
    for done, future in enumerate(pending, start=1):
        parts[future.key] = future.result()
        if on_progress:
            on_progress(done, total)
    return parts


def _judge(plan: RunPlan, table: DeltaTable | None, staging: str, points: list,
           run_stats: list) -> tuple[list, list[gate_scope.DatasetStatistics]]:
    """Each gate's result, every expectation judged at its scope, and its statistics over
    the dataset after this run (``table``: the version it appends to), which are kept in
    staging for the next append to merge."""
    if not points:
        return [], []
    from assay.pipelines import gate_scope  # the gate machinery: gated runs only

    version = gate_scope.published(plan, table)
    results, datasets = [], []
    for point, stats in zip(points, run_stats, strict=True):
        dataset = gate_scope.dataset_statistics(version, point.evaluator, stats)
        results.append(point.evaluator.result(stats, dataset.stats))
        datasets.append(dataset)
        gate_scope.keep(staging, point.spec.name, point.evaluator.kept(dataset.stats),
                        plan.spec.sink.storage_options)
    return results, datasets


def _entries(ledger: pd.DataFrame, kind: str) -> list[dict]:
    rows = ledger[ledger["kind"] == kind].sort_values("path")
    return [{"path": r.path, "split": r.split or None, "rows": int(r.rows),
             "bytes": int(r.bytes), "sha256": r.sha256} for r in rows.itertuples()]


def _gate_summary(point: Any, result: Any, dataset: gate_scope.DatasetStatistics,
                  accounting: Accounting) -> dict:
    quarantined = accounting.quarantined_by_stage.get(point.stage, 0)
    expectations = point.evaluator.suite.expectations
    return {
        "name": point.spec.name,
        "policy": point.spec.policy,
        "scope": point.spec.scope,
        "expectations": [
            {"type": e.type, "columns": list(e.columns), "scope": scope,
             "success": bool(r["success"])}
            for e, scope, r in zip(expectations, point.evaluator.scopes,
                                   result.ge_result["results"], strict=True)],
        "reread": dataset.reread,
        "success": bool(result.success),
        "rows_quarantined": quarantined,
        "row_level_failed": list(result.row_level_failed),
        "aggregate_failed": list(result.aggregate_failed),
        "statistics": result.ge_result.get("statistics", {}),
        "result": result.ge_result,
    }


def _with_scopes(gate: dict, failed: list[str]) -> str:
    """The failed expectations, each with its columns, the scope it was judged at and its
    cause: ``expect_table_row_count_to_be_between (dataset: 812)``,
    ``expect_column_mean_to_be_between(amount) (run: could not be evaluated: ...)``."""
    named = []
    for outcome in gate["result"]["results"]:
        config = outcome["expectation_config"]
        if outcome["success"] or config["type"] not in failed:
            continue
        cause = failure_cause(outcome)
        named.append(f"{expectation_label(config)} ({outcome['meta']['scope']}"
                     f"{': ' + cause if cause else ''})")
    return ", ".join(named)


def _abort_reason(gate: dict, spec: Any, accounting: Accounting) -> str | None:
    """Why the gate aborts the run (nothing published), or None: a failed ``abort`` gate,
    an aggregate failure of a ``quarantine`` gate, or a gate that quarantined more than its
    allowed fraction."""
    if spec.policy == "abort" and not gate["success"]:
        failed = gate["row_level_failed"] + gate["aggregate_failed"]
        return f"gate {spec.name!r} failed: {_with_scopes(gate, failed)}"
    if spec.policy == "quarantine" and gate["aggregate_failed"]:
        return (f"gate {spec.name!r}: table-level expectations failed: "
                f"{_with_scopes(gate, gate['aggregate_failed'])}")
    if spec.policy == "quarantine" and spec.max_quarantined_fraction is not None:
        fraction = gate["rows_quarantined"] / max(accounting.rows_read, 1)
        if fraction > spec.max_quarantined_fraction:
            return (f"gate {spec.name!r} quarantined {fraction:.2%} of rows, above "
                    f"max_quarantined_fraction {spec.max_quarantined_fraction:.2%}")
    return None


def _enforce_policies(staged: StagedRun) -> None:
    """Abort on the first gate that gives a reason to (``_abort_reason``)."""
    for gate in staged.gates:
        if message := gate["aborted"]:
            staging_area.abandon(staged, message)
            raise GateAborted(message)
