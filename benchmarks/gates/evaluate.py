"""One engine evaluating the benchmark suite on the benchmark data, in its own process.

    python -m benchmarks.gates.evaluate assay|ge-summary|ge-complete DATA.parquet SUITE

Prints ``RESULT {json}``: the evaluation's wall time (after loading, and after one warm-up
evaluation of the same suite on the first rows, so neither engine is timed importing or
compiling anything), the CPU time the process spent in it (all threads: the figure to
compare on a shared machine), and, per expectation, the answers to compare (success,
unexpected_count, observed_value). assay computes where ``assay run`` would compute a run
of this input with the default cluster spec (``assay.pipelines.in_process``): in process on
Dask's threaded scheduler for the 5M-row file, on its local cluster above an eighth of
memory; stderr says which.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks.gates.suite import SUITES, load

WARM_UP_ROWS = 10_000
PARTITIONS = 8


def _answers(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Answers keyed by the expectation (type and kwargs): GE orders results its own way."""
    out = {}
    for r in results:
        config, result = r["expectation_config"], r.get("result") or {}
        kwargs = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                  for k, v in config["kwargs"].items() if k != "batch_id"}  # GE: 1 -> 1.0
        out[f"{config['type']} {json.dumps(kwargs, sort_keys=True, default=str)}"] = {
            "success": r["success"], "unexpected_count": result.get("unexpected_count"),
            "observed_value": result.get("observed_value")}
    return out


def _failing_rows(verdict: Any) -> int:
    return int(verdict.failed.sum())


class Clock:
    """Wall and process CPU time of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _assay_gate(live: Any, suite: list[dict[str, Any]]) -> tuple[Clock, dict, int]:
    """The gate as the engine runs it: statistics and row routing in one dask.compute."""
    import dask

    from assay.validation.dask_gate import answer_requests, gate_statistics, gate_verdicts
    from assay.validation.gate import GateEvaluator
    from assay.validation.suite import parse_suite

    with Clock() as clock:
        evaluator = GateEvaluator(parse_suite(suite, name="bench"), "bench")
        tables = answer_requests(live, evaluator.requests)
        verdicts = gate_verdicts(live, evaluator, tables)
        stats = gate_statistics(verdicts, evaluator)
        routed = verdicts.map(_failing_rows, meta=(None, "int64")).sum()
        stats, failed_rows = dask.compute(stats, routed)
        result = evaluator.result(stats)
    return clock, _answers(result.ge_result["results"]), int(failed_rows)


def run_assay(data: Path, suite: list[dict[str, Any]]) -> tuple[Clock, dict, int]:
    import dask
    import dask.dataframe as dd

    from assay.pipelines.cluster import dask_client
    from assay.pipelines.in_process import computes_in_process, thread_count, threaded
    from assay.pipelines.spec import ClusterSpec

    # where the engine would compute a run of this input with the default cluster spec: in
    # process on the threaded scheduler up to an eighth of memory, else its local cluster;
    # strings as the engine's readers type them (and GE's frame holds them): pandas'
    # ``str``, not the ``string`` that Dask's reader converts them to by default; in
    # process, freed memory kept in the heap as for any gated run (``assay.pipelines.heap``)
    cluster = ClusterSpec()
    here = computes_in_process(cluster, data.stat().st_size)
    with dask.config.set({"dataframe.convert-string": False}), \
            (threaded(thread_count(cluster), gated=True) if here else dask_client(cluster)):
        # partitions as the engine's readers make them (64 MiB blocks: about 8 for this
        # data), never a whole frame on the client; loading is not the gate, so it is done
        # (and persisted) before the clock starts
        live = dd.read_parquet(data).repartition(npartitions=PARTITIONS).persist()
        if not here:  # a cluster's persist returns at once: load before the clock
            from distributed import wait

            wait(live)
        _assay_gate(live.head(WARM_UP_ROWS, npartitions=1, compute=False), suite)
        clock, answers, failing = _assay_gate(live, suite)
    print(f"assay computed {'in process' if here else 'on its local cluster'}",
          file=sys.stderr)
    return clock, answers, failing


def _ge_batch(frame: Any, suite: list[dict[str, Any]]) -> tuple[Any, Any]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (context.data_sources.add_pandas("bench")
                        .add_dataframe_asset("frame").add_batch_definition_whole_dataframe("all"))
    ge_suite = context.suites.add(gx.ExpectationSuite(name="bench"))
    for config in suite:
        ge_suite.add_expectation(ExpectationConfiguration(**config).to_domain_obj())
    return batch_definition.get_batch(batch_parameters={"dataframe": frame}), ge_suite


def run_ge(frame: Any, suite: list[dict[str, Any]], result_format: str) -> tuple[Clock, dict]:
    warnings.filterwarnings("ignore")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    batch, ge_suite = _ge_batch(frame.head(WARM_UP_ROWS), suite)
    batch.validate(ge_suite, result_format=result_format)
    batch, ge_suite = _ge_batch(frame, suite)
    with Clock() as clock:
        result = batch.validate(ge_suite, result_format=result_format).to_json_dict()
    return clock, _answers(result["results"])


def main(argv: list[str]) -> None:
    engine, data, suite = argv[0], Path(argv[1]), SUITES[argv[2]]
    payload: dict[str, Any] = {"engine": engine}
    if engine == "assay":
        clock, payload["answers"], payload["rows_failing"] = run_assay(data, suite)
    else:
        frame = load(data)
        mode = engine.removeprefix("ge-").upper()
        clock, payload["answers"] = run_ge(frame, suite, mode)
    payload["eval_s"], payload["cpu_s"] = clock.wall, clock.cpu
    print("RESULT " + json.dumps(payload, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
