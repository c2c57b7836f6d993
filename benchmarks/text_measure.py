"""Running one tool of the text benchmarks in a fresh process, and what it cost.

Beyond ``run_standard.measure`` (wall and the tree's peak), the text targets are per core
and per worker, so this also measures CPU time and the largest single process:

- **CPU s**: user + system of the process and every descendant it waited for
  (``RUSAGE_CHILDREN`` around the run: datatrove's forked workers and Dask's worker
  processes are reaped by the tool, so their time is in).
- **work**: from the moment the tool touches ``OUT/started`` (its imports done) to its exit;
  work CPU is the CPU s less what the tree had used by then (polled), so interpreter start
  and imports are left out of the per-core figures.
- **peak per process**: the largest RSS any one process of the tree reached (a worker's
  memory; with one process, the tool's), and the tree's summed peak, polled every 50 ms.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

POLL_SECONDS = 0.05
COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le}
TIMEOUT_S = 1800.0


@dataclass
class Cost:
    wall_s: float
    cpu_s: float
    work_wall_s: float
    work_cpu_s: float
    peak_process_mib: float
    peak_tree_mib: float
    returncode: int
    stdout: str = field(repr=False, default="")
    stderr: str = field(repr=False, default="")

    def result(self) -> dict[str, Any] | None:
        """The tool's ``RESULT {json}`` line, if it printed one."""
        line = next((x for x in self.stdout.splitlines() if x.startswith("RESULT ")), None)
        return json.loads(line.removeprefix("RESULT ")) if line else None

    def error(self) -> str | None:
        if self.returncode == 0 and self.result() is not None:
            return None
        return "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _poll(root: psutil.Process, cpu: dict[int, float], rss: dict[int, int]) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        procs = [root, *root.children(recursive=True)]
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied), p.oneshot():
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
                rss[p.pid] = max(rss.get(p.pid, 0), p.memory_info().rss)


def _kill_tree(root: psutil.Process) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        for p in [*root.children(recursive=True), root]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def measure(cmd: list[str], started: Path, cwd: Path, env: dict[str, str] | None = None,
            timeout_s: float | None = None) -> Cost:
    """Run ``cmd`` (which touches ``started`` when its work begins) and measure it; past
    ``timeout_s`` (default ``TIMEOUT_S``) its whole tree is killed (datatrove's executor
    waits forever on a worker that failed to start)."""
    limit = TIMEOUT_S if timeout_s is None else timeout_s
    started.unlink(missing_ok=True)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cpu_before = _children_cpu()
        begin = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        cpu: dict[int, float] = {}
        rss: dict[int, int] = {}
        tree_peak = 0
        work_begin: float | None = None
        cpu_at_work = 0.0
        while proc.poll() is None:
            _poll(proc, cpu, rss)
            with contextlib.suppress(psutil.NoSuchProcess):
                live = [proc.pid, *(c.pid for c in proc.children(recursive=True))]
                tree_peak = max(tree_peak, sum(rss.get(pid, 0) for pid in live))
            if work_begin is None and started.exists():
                work_begin, cpu_at_work = time.perf_counter(), sum(cpu.values())
            if time.perf_counter() - begin > limit:
                _kill_tree(proc)
                err.write(f"\nkilled after {limit:g} s\n")
            time.sleep(POLL_SECONDS)
        end = time.perf_counter()
        total_cpu = _children_cpu() - cpu_before
        if work_begin is None:  # the work ended within one poll of starting
            work_begin, cpu_at_work = begin, 0.0
        out.seek(0)
        err.seek(0)
        return Cost(end - begin, total_cpu, end - work_begin,
                    max(total_cpu - cpu_at_work, 0.0),
                    max(rss.values(), default=0) / 2**20, tree_peak / 2**20,
                    proc.returncode, out.read(), err.read())


def verdict_lines(lines: list[tuple[str, float | None, str, float, str]]) -> list[str]:
    """PASS/FAIL lines for (what, measured, an operator of ``COMPARE``, limit, unit); None:
    not measured."""
    printed = []
    for what, measured, op, limit, unit in lines:
        if measured is None:
            printed.append(f"  n/a   {what} (not measured in this run)")
            continue
        ok = COMPARE[op](measured, limit)
        printed.append(f"  {'PASS' if ok else 'FAIL'}  {what}: {measured:.3g}{unit} "
                       f"(target {op} {limit:g}{unit})")
    return printed


def run_text_tool(tool: str, corpus: Path, out: Path, workers: int, options: dict[str, Any],
                  cores: int) -> dict[str, Any]:
    """``benchmarks.text_tools`` running ``tool`` in a fresh process, measured: the costs,
    ``cores`` (what it used, for per-core figures), ``error`` (None when it worked) and
    ``removed_ids`` (numpy, when it worked)."""
    import numpy as np

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "benchmarks.text_tools", tool, str(corpus), str(out),
           "--workers", str(workers), "--options", json.dumps(options)]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    cost = measure(cmd, out / "started", root, {**os.environ, "PYTHONPATH": path})
    run: dict[str, Any] = {"tool": tool, "cores": cores, "error": cost.error(),
                           **{k: v for k, v in vars(cost).items()
                              if k not in ("stdout", "stderr")}}
    if run["error"] is None:
        run["removed_ids"] = np.asarray(json.loads((out / "removed.json").read_text()),
                                        dtype=np.int64)
    return run


def per_core(run: dict[str, Any], docs: int, cpu_s: float | None = None) -> tuple[float, float]:
    """(docs / CPU s of the work, docs / (work wall s x cores)); ``cpu_s`` replaces the
    run's work CPU (a net figure)."""
    cpu = run["work_cpu_s"] if cpu_s is None else cpu_s
    return docs / max(cpu, 1e-9), docs / max(run["work_wall_s"] * run["cores"], 1e-9)


def write_report(report: dict[str, Any], verdicts: list[tuple[str, float | None, str, float, str]],
                 path: Path) -> None:
    """The run's JSON report, with its target verdicts, at ``path`` (said on stdout)."""
    report["targets"] = [{"what": w, "measured": m, "op": op, "limit": lim, "unit": u}
                         for w, m, op, lim, u in verdicts]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nresults: {path}")
