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
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

POLL_SECONDS = 0.05


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


def measure(cmd: list[str], started: Path, cwd: Path, env: dict[str, str] | None = None
            ) -> Cost:
    """Run ``cmd`` (which touches ``started`` when its work begins) and measure it."""
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
    """PASS/FAIL lines for (what, measured, ">=" or "<=", limit, unit); None: not measured."""
    printed = []
    for what, measured, op, limit, unit in lines:
        if measured is None:
            printed.append(f"  n/a   {what} (not measured in this run)")
            continue
        ok = measured >= limit if op == ">=" else measured <= limit
        printed.append(f"  {'PASS' if ok else 'FAIL'}  {what}: {measured:.3g}{unit} "
                       f"(target {op} {limit:g}{unit})")
    return printed
