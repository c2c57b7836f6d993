"""Near-duplicate benchmark: assay's ``near_dedup`` against datatrove's MinHash and datasketch.

    python benchmarks/run_near_dedup.py                     # 5,000 and 50,000 documents
    python benchmarks/run_near_dedup.py --docs 2000 --peers-only --curve ""   # smoke run
    python benchmarks/run_near_dedup.py --docs 5000,50000,500000 --curve ""   # memory growth

One corpus per size (``text_corpus``: real prose with planted near-duplicates and the exact
Jaccard of every pair at or above 0.5), every tool on it in a fresh process
(``text_tools``), same 5-word shingles and 112 hashes (14 bands x 8 rows).

Accuracy, against the exact truth, at a Jaccard bar t:
- **precision**: of the documents a tool removed, the share that have a *kept* document
  with Jaccard >= t (a removed document with no such twin was lost for nothing);
- **recall**: of the pairs with Jaccard >= t, the share the tool broke up (it did not keep
  both documents).
Each tool's removal at 0.8 is scored at every bar of ``--curve``; assay is also run with its
``threshold`` set to each bar (on the smallest size), which is its precision/recall curve.

assay runs twice at every size: ``assay``, in its own process on ``--workers`` threads (what
a spec without ``processes: true`` gets for an input under an eighth of memory, as these
are: its speed and accuracy are the targets'), and ``assay-workers``, on ``--workers``
worker processes (whose peaks are the memory per worker the growth target bounds).

Speed: documents per second per core, from the CPU time of the tool's process tree during
its work (imports excluded), and from wall time times the cores it used (``--workers`` for
datatrove and assay, 1 for datasketch). Memory: the largest RSS of any one process (a
worker; for ``assay``, its whole run). assay is skipped, saying so, while ``near_dedup`` is
not registered, and with ``--peers-only``. The output ends with issue 16's targets, one
PASS/FAIL line each.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from benchmarks.run_standard import environment  # noqa: E402
from benchmarks.text_corpus import NGRAM, CorpusSpec, ensure, read_truth  # noqa: E402
from benchmarks.text_measure import (  # noqa: E402
    per_core,
    run_text_tool,
    verdict_lines,
    write_report,
)
from benchmarks.text_tools import BANDS, ROWS  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "near_dedup"
# The spec's step, in one place: a renamed key of near_dedup is a one-line fix here.
NEAR_DEDUP_STEP: dict[str, Any] = {
    "op": "near_dedup", "column": "text", "unit": "word", "ngram": NGRAM,
    "bands": BANDS, "rows_per_band": ROWS, "seed": 42, "scope": "run",
}
THRESHOLD_KEY = "threshold"
PEERS = ("datatrove", "datasketch")
TOOLS = {"datatrove": "datatrove-minhash", "datasketch": "datasketch", "assay": "assay",
         "assay-workers": "assay"}
ASSAY = ("assay", "assay-workers")  # in process on threads; on worker processes
BAR = 0.8
CURVE = ",".join(f"{t / 100:g}" for t in range(50, 100, 5))
MEMORY_GROWTH_LIMIT = 1.5  # a worker's peak at the largest size over the smallest's
# assay's read blocks, the same at every size so that the memory growth measured is the
# corpus's, not the blocks' (a worker's memory follows its blocks: RESULTS.md, issue 16).
# The corpus's row groups hold 8,192 documents (~16.5 MiB of text): at 17 MiB every block
# is one whole group at 500,000 documents and one whole file (6,250 documents, ~13 MiB) at
# 50,000. The engine's default, 64 MiB, would read four groups at once at 500,000 and still
# whole files at 50,000. '' on the command line: the engine's default.
BLOCK_SIZE: str | None = "17MiB"


def assay_missing() -> str | None:
    """Why assay cannot run here, or None."""
    from assay.transforms.base import registered_steps

    op = NEAR_DEDUP_STEP["op"]
    if op not in registered_steps():
        return (f"assay skipped: the {op!r} step is not registered yet "
                f"(assay.transforms.base.registered_steps())")
    return None


# -- accuracy ---------------------------------------------------------------------------------


def score(removed: np.ndarray, docs: int, truth: Any, bar: float) -> dict[str, Any]:
    """Precision and recall of a removal against the truth at Jaccard >= ``bar`` (see the
    module's docstring); None where there is nothing to divide by."""
    gone = np.zeros(docs, dtype=bool)
    gone[removed] = True
    sure = truth.filter(truth.column("jaccard").to_numpy() >= bar)
    a, b = sure.column("a").to_numpy(), sure.column("b").to_numpy()
    twin_kept = np.concatenate([a[gone[a] & ~gone[b]], b[gone[b] & ~gone[a]]])
    justified = len(np.unique(twin_kept))
    broken = int(np.sum(gone[a] | gone[b]))
    return {"bar": bar, "removed": int(gone.sum()), "justified": justified,
            "pairs": len(a), "pairs_broken": broken,
            "precision": justified / gone.sum() if gone.any() else None,
            "recall": broken / len(a) if len(a) else None}


# -- runs -------------------------------------------------------------------------------------


def run_tool(tool: str, corpus: Path, workers: int, threshold: float = BAR,
             block_size: str | None = BLOCK_SIZE) -> dict[str, Any]:
    """One tool's run; ``assay`` runs its ``workers`` as threads of its own process (what a
    spec without ``processes: true`` gets for an input under an eighth of memory),
    ``assay-workers`` as worker processes."""
    out = OUT / f"{corpus.name}-{tool}-{threshold:g}"
    options = ({"steps": [{**NEAR_DEDUP_STEP, THRESHOLD_KEY: threshold}],
                "block_size": block_size} if tool in ASSAY else {"threshold": threshold})
    spread = workers
    if tool == "assay":
        options |= {"threads": workers, "processes": False}
        spread = 1
    run = run_text_tool(TOOLS[tool], corpus, out, spread, options,
                        cores=1 if tool == "datasketch" else workers)
    return {**run, "tool": tool, "threshold": threshold}


def run_size(docs: int, args: argparse.Namespace, tools: list[str]) -> dict[str, Any]:
    corpus = ensure(CorpusSpec(docs, args.seed, args.doc_chars),
                    with_truth=docs <= args.truth_up_to)
    truth = read_truth(corpus) if docs <= args.truth_up_to else None
    runs = []
    for tool in tools:
        run = run_tool(tool, corpus, args.workers, block_size=args.block_size or None)
        state = f"FAILED:\n{run['error']}" if run["error"] else (
            f"{run['work_wall_s']:.1f} s work, {run['work_cpu_s']:.1f} CPU s")
        print(f"  {docs:,} docs, {tool}: {state}", file=sys.stderr)
        if run["error"] is None:
            run["scores"] = [] if truth is None else [
                score(run["removed_ids"], docs, truth, bar) for bar in args.bars]
        runs.append(run)
    pairs = "no exact truth (--truth-up-to)" if truth is None else \
        f"{truth.num_rows:,} pairs with Jaccard >= 0.5 in the truth"
    print(f"\nnear-duplicates, {docs:,} documents of ~{args.doc_chars} chars, {pairs}, "
          f"{os.cpu_count()} CPUs")
    print(table(runs, docs))
    return {"docs": docs, "corpus": str(corpus), "runs": runs}


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def at_bar(run: dict[str, Any], bar: float = BAR) -> dict[str, Any]:
    return next((s for s in run.get("scores", []) if abs(s["bar"] - bar) < 1e-9), {})


def table(runs: list[dict[str, Any]], docs: int) -> str:
    assay = next((r for r in runs if r["tool"] == "assay" and r["error"] is None), None)
    head = (f"{'tool':<14}{'cores':>6}{'work s':>8}{'CPU s':>8}{'docs/s/core':>13}"
            f"{'(wall)':>8}{'MiB/proc':>9}{'MiB tree':>9}{'removed':>8}{'P@0.8':>7}"
            f"{'R@0.8':>7}   assay speed / peer")
    lines = [head, "-" * len(head)]
    for run in runs:
        if run["error"] is not None:
            lines.append(f"{run['tool']:<14}FAILED: {run['error'].splitlines()[-1]}")
            continue
        cpu_rate, wall_rate = per_core(run, docs)
        s = at_bar(run)
        ratio = ""
        if assay is not None and run["tool"] in PEERS:
            ratio = f"{per_core(assay, docs)[0] / cpu_rate:>8.2f}x"
        lines.append(
            f"{run['tool']:<14}{run['cores']:>6}{run['work_wall_s']:>8.1f}"
            f"{run['work_cpu_s']:>8.1f}{cpu_rate:>13,.0f}{wall_rate:>8,.0f}"
            f"{run['peak_process_mib']:>9.0f}{run['peak_tree_mib']:>9.0f}"
            f"{s.get('removed', len(run.get('removed_ids', []))):>8}"
            f"{_fmt(s.get('precision')):>7}{_fmt(s.get('recall')):>7}"
            f"{ratio}")
    return "\n".join(lines)


def curve_table(runs: list[dict[str, Any]], title: str) -> str:
    lines = [title, f"{'run':<22}{'bar':>6}{'removed':>9}{'precision':>11}{'recall':>9}"]
    for run in runs:
        if run["error"] is not None:
            lines.append(f"{run['tool']} @ {run['threshold']:g}: FAILED")
            continue
        for s in run["scores"]:
            lines.append(f"{run['tool'] + ' @ ' + format(run['threshold'], 'g'):<22}"
                         f"{s['bar']:>6.2f}{s['removed']:>9}{_fmt(s['precision']):>11}"
                         f"{_fmt(s['recall']):>9}")
    return "\n".join(lines)


def sweep(docs: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """assay with its threshold at each bar, scored at that bar: its P/R curve."""
    corpus = ensure(CorpusSpec(docs, args.seed, args.doc_chars))
    truth = read_truth(corpus)
    runs = []
    for bar in args.bars:
        run = run_tool("assay", corpus, args.workers, threshold=bar,
                       block_size=args.block_size or None)
        if run["error"] is None:
            run["scores"] = [score(run["removed_ids"], docs, truth, bar)]
        runs.append(run)
    return runs


def targets(sizes: list[dict[str, Any]]) -> list[tuple[str, float | None, str, float, str]]:
    """Issue 16's near-dup targets on the largest size (accuracy: the largest with a truth;
    memory: each size over the next smaller one)."""
    largest = max(sizes, key=lambda s: s["docs"])
    ok = {r["tool"]: r for r in largest["runs"] if r["error"] is None}
    assay, datatrove, datasketch = ok.get("assay"), ok.get("datatrove"), ok.get("datasketch")
    docs = largest["docs"]
    scored = [s for s in sizes if any(r.get("scores") for r in s["runs"])]
    truthful = max(scored, key=lambda s: s["docs"]) if scored else largest
    judged = next((r for r in truthful["runs"] if r["tool"] == "assay" and not r["error"]),
                  None)

    def speed(run: dict[str, Any] | None) -> float | None:
        return per_core(run, docs)[0] if run else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    label = f"{docs:,} docs"
    lines = [
        (f"{truthful['docs']:,} docs: assay precision at Jaccard >= {BAR}",
         at_bar(judged).get("precision") if judged else None, ">=", 0.99, ""),
        (f"{truthful['docs']:,} docs: assay recall at Jaccard >= {BAR}",
         at_bar(judged).get("recall") if judged else None, ">=", 0.95, ""),
        (f"{label}: assay docs/s/core (CPU) / datatrove's", ratio(speed(assay), speed(datatrove)),
         ">=", 5.0, "x"),
        (f"{label}: assay docs/s/core (CPU) / datasketch's",
         ratio(speed(assay), speed(datasketch)), ">", 1.0, "x"),
    ]
    ordered = sorted(sizes, key=lambda s: s["docs"])
    for small, big in itertools.pairwise(ordered):
        before, after = (next((r["peak_process_mib"] for r in size["runs"]
                               if r["tool"] == "assay-workers" and not r["error"]), None)
                         for size in (small, big))
        lines.append((f"assay-workers peak per worker, {big['docs']:,} / {small['docs']:,} docs",
                      ratio(after, before), "<=", MEMORY_GROWTH_LIMIT, "x"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="5000,50000", help="comma-separated corpus sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doc-chars", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes (assay: threads too) for datatrove and assay")
    parser.add_argument("--peers-only", action="store_true", help="skip assay")
    parser.add_argument("--curve", default=CURVE,
                        help="Jaccard bars to score at; assay is also run at each, on the "
                             "smallest size ('' for none)")
    parser.add_argument("--truth-up-to", type=int, default=100_000,
                        help="largest corpus given the exact truth (above it: speed and memory "
                             "only; the truth of 500,000 documents takes GiBs and long)")
    parser.add_argument("--block-size", default=BLOCK_SIZE,
                        help="assay's read blocks (source.block_size; '' for the engine's default)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.bars = sorted({BAR, *(float(t) for t in args.curve.split(",") if t.strip())})
    skipped = "assay skipped: --peers-only" if args.peers_only else assay_missing()
    if skipped:
        print(skipped)
    tools = [*([] if skipped else ASSAY), *PEERS]  # assay's figures first at a big size
    sizes = [run_size(int(d), args, tools) for d in args.docs.split(",")]
    for size in sizes:
        print("\n" + curve_table(size["runs"], f"{size['docs']:,} docs: each tool's removal "
                                              f"at {BAR} scored at every bar"))
    curve = []
    if not skipped and args.curve.strip():
        smallest = min(int(d) for d in args.docs.split(","))
        curve = sweep(smallest, args)
        print("\n" + curve_table(curve, f"assay's precision/recall curve, {smallest:,} docs "
                                        "(threshold = bar)"))
    verdicts = targets(sizes)
    print("\nissue 16 near-dup targets:")
    print("\n".join(verdict_lines(verdicts)))
    for run in (r for s in sizes for r in s["runs"]):
        run.pop("removed_ids", None)
    for run in curve:
        run.pop("removed_ids", None)
    report = {"benchmark": "near_dedup", "environment": environment(), "workers": args.workers,
              "step": NEAR_DEDUP_STEP, "skipped": skipped, "sizes": sizes, "curve": curve}
    path = args.json or OUT.parent / f"near_dedup-{args.docs.replace(',', '+')}.json"
    write_report(report, verdicts, path)
    failed = [r for s in sizes for r in s["runs"] if r["error"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
