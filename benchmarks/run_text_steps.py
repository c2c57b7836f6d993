"""Text-step throughput: assay's quality, language and PII steps against datatrove's filters.

    python benchmarks/run_text_steps.py                          # 10,000 documents of ~2 KB
    python benchmarks/run_text_steps.py --docs 2000 --peers-only # smoke run
    python benchmarks/run_text_steps.py --docs 50000 --assay-only

The corpus is ``text_corpus``'s (real English prose, ~2 KB a document). Each tool runs in a
fresh process (``text_tools``; assay computes in that process on ``--workers`` threads, as a
spec without ``processes: true`` does for an input under an eighth of memory, datatrove on
``--workers`` processes), once with no step at all (reading and writing the same
documents: the baseline), once per step alone and once with all of them together; a step's
documents per second per core are the documents over the CPU time its run spent beyond the
baseline's (net: what the step itself costs), with the whole run's figure beside it.
assay runs ``assay.run`` on a spec (``TEXT_STEPS`` holds the YAML of each step: a renamed
key is a one-line fix), skipping, and saying so, any step not registered yet
(``assay.transforms.base.registered_steps()``); datatrove runs its equivalents
(GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter, FineWebQualityFilter,
LanguageFilter on the same lid.176 model, and its PIIFormatter, e-mails and IPs only) between
a Parquet reader and writer. The output ends with issue 16's target (quality + language +
PII together, net, >= 2,000 documents per second per core), PASS or FAIL.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from benchmarks.run_standard import environment  # noqa: E402
from benchmarks.text_corpus import CorpusSpec, ensure  # noqa: E402
from benchmarks.text_measure import (  # noqa: E402
    per_core,
    run_text_tool,
    verdict_lines,
    write_report,
)

OUT = ROOT / "benchmarks" / "out" / "text_steps"
# Each step's spec, in one place: a renamed key is a one-line fix here. The keys also name
# datatrove's equivalent (text_tools.FILTERS).
TEXT_STEPS: dict[str, dict[str, Any]] = {
    "gopher_quality": {"op": "gopher_quality", "column": "text"},
    "gopher_repetition": {"op": "gopher_repetition", "column": "text"},
    "c4_quality": {"op": "c4_quality", "column": "text"},
    "fineweb_quality": {"op": "fineweb_quality", "column": "text"},
    "language_id": {"op": "language_id", "column": "text", "languages": ["en"],
                    "min_score": 0.65},
    "pii": {"op": "pii", "columns": ["text"], "action": "redact"},
}
TARGET = 2000.0  # docs/s/core, quality + language + PII together


def unregistered() -> list[str]:
    """The steps of TEXT_STEPS that assay does not have (yet)."""
    from assay.transforms.base import registered_steps

    have = registered_steps()
    return [name for name, step in TEXT_STEPS.items() if step["op"] not in have]


def run_variants(tool: str, corpus: Path, steps: list[str], workers: int
                 ) -> dict[str, dict[str, Any]]:
    """The tool with no step, each step alone, and all of ``steps`` together."""
    variants: dict[str, list[str]] = {"baseline": [], **{s: [s] for s in steps}}
    if len(steps) > 1:
        variants["together"] = steps
    runs = {}
    for name, chosen in variants.items():
        options: dict[str, Any] = {"filters": chosen}
        spread = workers
        if tool == "assay":  # in process on ``workers`` threads: a default spec's run here
            options = {"steps": [TEXT_STEPS[s] for s in chosen], "threads": workers,
                       "processes": False}
            spread = 1
        run = run_text_tool(tool, corpus, OUT / f"{corpus.name}-{tool}-{name}", spread,
                            options, cores=workers)
        run.pop("removed_ids", None)
        state = (f"FAILED:\n{run['error']}" if run["error"]
                 else f"{run['work_wall_s']:.1f} s work, {run['work_cpu_s']:.1f} CPU s")
        print(f"  {tool} {name}: {state}", file=sys.stderr)
        runs[name] = run
    return runs


def rates(runs: dict[str, dict[str, Any]], docs: int) -> dict[str, dict[str, float | None]]:
    """Per variant: docs/s/core of the whole run and net of the baseline's CPU."""
    base = runs.get("baseline")
    out: dict[str, dict[str, float | None]] = {}
    for name, run in runs.items():
        if run["error"] is not None:
            continue
        whole, wall = per_core(run, docs)
        net = None
        if name != "baseline" and base is not None and base["error"] is None:
            extra = run["work_cpu_s"] - base["work_cpu_s"]
            net = per_core(run, docs, extra)[0] if extra > 0 else None
        out[name] = {"whole": whole, "wall": wall, "net": net}
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def table(results: dict[str, dict[str, Any]], docs: int) -> str:
    names = list(dict.fromkeys(n for r in results.values() for n in r["runs"]))
    head = f"{'step':<20}" + "".join(f"{tool + ' net':>18}{'whole':>9}" for tool in results)
    if {"assay", "datatrove-filters"} <= results.keys():
        head += f"{'assay/datatrove':>17}"
    lines = [f"docs/s/core (CPU), {docs:,} documents", head, "-" * len(head)]
    for name in names:
        row = f"{name:<20}"
        for result in results.values():
            got = result["rates"].get(name)
            failed = name in result["runs"] and result["runs"][name]["error"] is not None
            row += (f"{'FAILED':>18}{'':>9}" if failed else
                    f"{_fmt(got and got['net']):>18}{_fmt(got and got['whole']):>9}")
        if {"assay", "datatrove-filters"} <= results.keys():
            a = results["assay"]["rates"].get(name, {}).get("net")
            d = results["datatrove-filters"]["rates"].get(name, {}).get("net")
            row += f"{a / d:>16.2f}x" if a and d else f"{'':>17}"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doc-chars", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peers-only", action="store_true", help="skip assay")
    parser.add_argument("--assay-only", action="store_true", help="skip datatrove")
    parser.add_argument("--steps", default=",".join(TEXT_STEPS),
                        help="comma-separated subset of " + ",".join(TEXT_STEPS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if unknown := sorted(set(steps) - TEXT_STEPS.keys()):
        parser.error(f"unknown steps {unknown}; choose from {list(TEXT_STEPS)}")
    corpus = ensure(CorpusSpec(args.docs, args.seed, args.doc_chars))
    results: dict[str, dict[str, Any]] = {}
    missing = unregistered()
    if args.peers_only:
        print("assay skipped: --peers-only")
    else:
        for name in missing:
            print(f"assay: {name} skipped: the {TEXT_STEPS[name]['op']!r} step is not "
                  "registered yet (assay.transforms.base.registered_steps())")
        ours = [s for s in steps if s not in missing]
        if ours:
            results["assay"] = {"steps": ours,
                                "runs": run_variants("assay", corpus, ours, args.workers)}
    if not args.assay_only:
        results["datatrove-filters"] = {"steps": steps, "runs": run_variants(
            "datatrove-filters", corpus, steps, args.workers)}
    for result in results.values():
        result["rates"] = rates(result["runs"], args.docs)
    print(f"\ntext steps, {args.docs:,} documents of ~{args.doc_chars} chars, "
          f"{args.workers} workers, {os.cpu_count()} CPUs")
    print(table(results, args.docs))
    assay = results.get("assay")
    complete = assay is not None and set(assay["steps"]) == set(TEXT_STEPS)
    together = assay["rates"].get("together" if len(assay["steps"]) > 1 else assay["steps"][0],
                                  {}) if assay else {}
    label = "quality + language + PII together, net docs/s/core (CPU)"
    if assay and not complete:
        label += f" (only {', '.join(assay['steps'])})"
    verdicts = [(label, together.get("net") if complete else None, ">=", TARGET, "")]
    print("\nissue 16 text-step target:")
    print("\n".join(verdict_lines(verdicts)))
    report = {"benchmark": "text_steps", "environment": environment(), "docs": args.docs,
              "corpus": str(corpus), "workers": args.workers, "steps": TEXT_STEPS,
              "unregistered": missing, "results": results}
    path = args.json or OUT.parent / f"text_steps-{args.docs}.json"
    write_report(report, verdicts, path)
    failed = any(run["error"] for r in results.values() for run in r["runs"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
