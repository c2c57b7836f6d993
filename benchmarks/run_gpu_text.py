"""near_dedup on cuDF against near_dedup on pandas with every core, on the same corpus.

Issue 16's GPU target: on cuDF at least 10x the CPU backend's speed, with identical
removals. Each backend runs in a fresh process through ``benchmarks.text_tools`` (the
measurement ``run_near_dedup.py`` uses): pandas as ``--workers`` processes of one thread,
cuDF as one worker per GPU with ``--gpu-threads`` threads (n-grams are hashed on the host,
in those threads). The corpus is ``text_corpus``'s (build it here with ``run_near_dedup.py``
or carry it to the GPU machine: it needs botocore's documentation to generate).

    python benchmarks/run_gpu_text.py benchmarks/data/text-50000-s0-c2000-f100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.run_near_dedup import NEAR_DEDUP_STEP, OUT
from benchmarks.text_measure import run_text_tool


def run_backend(corpus: Path, backend: str, workers: int, threads: int) -> dict[str, Any]:
    """One measured near_dedup run of assay on ``backend``."""
    options = {"steps": [NEAR_DEDUP_STEP], "backend": backend, "threads": threads}
    return run_text_tool("assay", corpus, OUT / f"{corpus.name}-assay-{backend}", workers,
                         options, cores=workers * threads)


def report(runs: dict[str, dict[str, Any]], docs: int) -> list[str]:
    """Each backend's work wall and documents per second, the speed-up and the agreement."""
    lines = []
    for backend, run in runs.items():
        if run["error"]:
            lines.append(f"{backend}: FAILED\n{run['error']}")
            continue
        lines.append(f"{backend}: {run['work_wall_s']:.2f} s work, "
                     f"{docs / run['work_wall_s']:,.0f} docs/s, "
                     f"{len(run['removed_ids']):,} removed, "
                     f"peak per process {run['peak_process_mib']:,.0f} MiB")
    if not any(run["error"] for run in runs.values()):
        pandas, cudf = runs["pandas"], runs["cudf"]
        same = np.array_equal(pandas["removed_ids"], cudf["removed_ids"])
        speedup = pandas["work_wall_s"] / cudf["work_wall_s"]
        lines.append(f"cuDF / pandas speed: {speedup:.2f}x (target 10x: "
                     f"{'PASS' if speedup >= 10 else 'FAIL'}); identical removals: "
                     f"{'yes' if same else 'NO'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="pandas worker processes (default: every core)")
    parser.add_argument("--gpu-threads", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    docs = json.loads((args.corpus / "corpus.json").read_text())["docs"]
    # cuDF first: in a lease's short slot its figure is the one still owed
    cudf = run_backend(args.corpus, "cudf", 1, args.gpu_threads)
    runs = {"pandas": run_backend(args.corpus, "pandas", args.workers, 1), "cudf": cudf}
    print("\n".join(report(runs, docs)))
    if args.json:
        args.json.write_text(json.dumps(
            {name: {k: v for k, v in run.items() if k != "removed_ids"}
             for name, run in runs.items()}, indent=2, default=str) + "\n")
    return 0 if not any(run["error"] for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
