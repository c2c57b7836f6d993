"""Where one partition's time goes, step by step, on either backend.

Reads the first partitions of a run's plan in this process (no cluster, no Dask graph),
then times, per partition: the read (parse and schema), each partition step's ``apply``,
the removal mask each step's result is brought to the host as (``chain.py`` does this for
every step), the whole chain as the engine runs it (steps, masks, quarantine records,
routing) and the curated rows' shard encoding. On cuDF every figure waits for the device
to finish, so a step that leaves the GPU for the host shows up as a large share. Global
steps (``dedup``, ``near_dedup``) are left out: they are stages of the graph, not of a
partition. ``--calls N`` adds the N functions that took longest in the first partition.

    python benchmarks/profile_chain.py benchmarks/standard_job/pipeline.yaml \\
        --input 'benchmarks/data/events-4000000-s0-f8/*.csv' --backend pandas --partitions 3
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assay.pipelines.chain import run_chain
from assay.pipelines.plan import plan_run
from assay.pipelines.routing import data_columns, live_mask
from assay.pipelines.sink.shards import arrow_schema, write_shards
from assay.pipelines.sources.read import read_block_directly
from assay.pipelines.spec import load_spec
from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep


def _device_sync() -> None:
    """Wait for queued GPU work (cuDF returns before its kernels finish); no-op on CPU."""
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        cupy.cuda.runtime.deviceSynchronize()


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``function``'s result and its seconds, device work included."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    _device_sync()
    return result, time.perf_counter() - started


def profile_partition(part: Any, steps: list[PartitionStep], spec: Any, folder: str
                      ) -> dict[str, float]:
    """Seconds per phase of one partition (see the module docstring)."""
    seconds: dict[str, float] = {}
    data = part[data_columns(part)]
    for step in steps:
        result, seconds[f"step {step.label}"] = timed(step.apply, data)
        if result.removed is not None:
            _, seconds[f"mask {step.label}"] = timed(
                lambda r=result: r.removed.fillna(False).astype(bool).to_numpy())
        data = result.frame
    routed, seconds["whole chain"] = timed(run_chain, part, steps)
    curated = routed.loc[live_mask(routed), data_columns(routed)]
    schema = arrow_schema(fr.to_pandas(curated.iloc[:0]))
    _, seconds["shards"] = timed(write_shards, curated, schema, folder, "p", spec.sink)
    return seconds


def profile(spec_path: Path, inputs: list[str], backend: str, partitions: int,
            calls: int = 0) -> dict[str, Any]:
    """Median seconds per phase over the first ``partitions`` partitions, and their rows;
    with ``calls``, also the functions that took the most time (cumulative) in the first
    partition's read and chain, as text (``cProfile``: where inside a phase time goes)."""
    spec = load_spec(spec_path)
    steps = [step for step in spec.steps if isinstance(step, PartitionStep)]
    with tempfile.TemporaryDirectory() as folder:
        plan = plan_run(spec, inputs=inputs or None, output=folder)
        runs, rows, top = [], 0, ""
        for number in range(min(partitions, sum(len(u.blocks) for u in plan.inputs))):
            profiler = cProfile.Profile() if calls and number == 0 else None
            if profiler:
                profiler.enable()
            part, read_s = timed(read_block_directly, plan, number, backend)
            rows += len(part)
            runs.append({"read": read_s, **profile_partition(part, steps, spec, folder)})
            if profiler:
                profiler.disable()
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(calls)
                top = text.getvalue()
    phases = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    return {"backend": backend, "partitions": len(runs), "rows": rows, "median_s": phases,
            "top_calls": top}


def table(result: dict[str, Any]) -> str:
    """One line per phase: median milliseconds per partition and share of read + chain +
    shards (the step and mask lines are the chain's parts)."""
    phases = result["median_s"]
    whole = phases["read"] + phases["whole chain"] + phases["shards"]
    lines = [f"{result['backend']}: {result['partitions']} partitions, {result['rows']:,} rows",
             f"{'phase':<36}{'ms':>10}{'share':>8}"]
    for name, seconds in phases.items():
        lines.append(f"{name:<36}{seconds * 1000:>10.1f}{seconds / whole:>8.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--input", action="append", default=[],
                        help="input paths or globs (default: the spec's source)")
    parser.add_argument("--backend", default="pandas", choices=["pandas", "cudf"])
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--calls", type=int, default=0,
                        help="also print the N functions that took longest in partition 0")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    result = profile(args.spec, args.input, args.backend, args.partitions, args.calls)
    print(table(result))
    if result["top_calls"]:
        print(result["top_calls"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
