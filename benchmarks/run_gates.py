"""Gate benchmark: assay's native evaluation of a GE suite against GE's own pandas engine.

    python benchmarks/run_gates.py                 # 5M rows, both suites, every engine
    python benchmarks/run_gates.py --rows 200000   # smoke run
    python benchmarks/run_gates.py --suites structural --engines assay,ge-summary

Each engine runs in a fresh process that loads the same typed Parquet data, evaluates the
suite, and reports its evaluation time (after loading) and its answers; the process tree's
peak RSS is polled. The run fails unless every engine gives the same answers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gates.suite import SUITES, ensure_data  # noqa: E402
from benchmarks.run_standard import environment, measure  # noqa: E402

ENGINES = ("assay", "ge-summary", "ge-complete")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def disagreements(runs: dict[str, dict[str, Any]]) -> list[str]:
    reference = runs["ge-summary"]["answers"]
    problems = []
    for engine, run in runs.items():
        if run["answers"].keys() != reference.keys():
            problems.append(f"{engine}: evaluated other expectations than GE")
        for key, theirs in reference.items():
            ours = run["answers"].get(key)
            if not _same(ours, theirs):
                problems.append(f"{engine}: {key}: {ours} != ge-summary {theirs}")
    return problems


def run_suite(name: str, data: Path, engines: list[str], rows: int, repeat: int) -> bool:
    """Every engine on one suite (best evaluation time of ``repeat`` fresh processes, the
    highest peak memory of them), a table of ratios, the JSON; False if answers differ."""
    suite = SUITES[name]
    print(f"suite {name}: {len(suite)} expectations")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "false"}
    runs: dict[str, dict[str, Any]] = {}
    for engine in engines:
        tries = []
        for _ in range(repeat):
            wall, peak, code, out, err = measure(
                [sys.executable, "-m", "benchmarks.gates.evaluate", engine, str(data), name], env)
            line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
            if code != 0 or line is None:
                print(f"{engine} failed ({code}):\n{err[-3000:]}")
                return False
            tries.append({**json.loads(line[7:]), "wall_s": wall, "peak_mib": peak})
        best = min(tries, key=lambda run: run["eval_s"])
        runs[engine] = {**best, "eval_s_all": [run["eval_s"] for run in tries],
                        "cpu_s_all": [run["cpu_s"] for run in tries],
                        "peak_mib": max(run["peak_mib"] for run in tries)}
        times = ", ".join(f"{run['eval_s']:.2f}" for run in tries)
        cpu = ", ".join(f"{run['cpu_s']:.2f}" for run in tries)
        print(f"  {engine}: evaluation {times} s (best {best['eval_s']:.2f}), CPU {cpu} s, "
              f"peak {runs[engine]['peak_mib']:.0f} MiB")
    compared = {"assay", "ge-summary"} <= runs.keys()
    problems = disagreements(runs) if compared else []
    base = runs.get("assay") or next(iter(runs.values()))
    print(f"\n{rows:,} rows, suite {name} ({len(suite)} expectations), {os.cpu_count()} CPUs")
    print(f"{'engine':<12} {'eval s':>8} {'peak MiB':>9} {'assay faster':>13} "
          f"{'assay/peer peak':>16}")
    for engine, run in runs.items():
        speed = run["eval_s"] / base["eval_s"]
        print(f"{engine:<12} {run['eval_s']:>8.2f} {run['peak_mib']:>9.0f} {speed:>12.1f}x "
              f"{base['peak_mib'] / run['peak_mib']:>15.2f}x")
    if not compared:
        print("answers: not compared (run assay and ge-summary to compare)")
    else:
        print("answers: " + ("identical" if not problems else "DIFFER"))
    for problem in problems:
        print("  " + problem)
    out = ROOT / "benchmarks" / "out" / f"gates-{name}-{rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "suite_name": name, "suite": suite,
                               "environment": environment(), "runs": runs,
                               "agree": not problems if compared else None},
                              indent=2, default=str))
    print(f"results: {out}\n")
    return not problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of " + ", ".join(ENGINES))
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh processes per engine; the best evaluation time is kept")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help="comma-separated subset of " + ", ".join(SUITES))
    args = parser.parse_args(argv)
    data = ensure_data(ROOT / "benchmarks" / "data", args.rows, args.seed)
    engines = args.engines.split(",")
    suites = args.suites.split(",")
    agree = [run_suite(name, data, engines, args.rows, args.repeat) for name in suites]
    return 0 if all(agree) else 1


if __name__ == "__main__":
    sys.exit(main())
