"""The standard job at GPU scale: assay on cuDF vs assay on pandas vs DuckDB and Polars.

One run, one machine, the same cached CSV uploads (default 50M rows): assay with
``--backend cudf`` (one Dask-CUDA worker per visible GPU), assay with ``--backend pandas``
on every core, and DuckDB and Polars on the same cores. Prints wall times and their ratios
to assay on cuDF, the GPU memory peak (all visible GPUs, polled with nvidia-smi during the
cuDF run) and whether cuDF spilled to host. Reuses run_standard.py's data, measurement,
peers and row-count check.

    python benchmarks/run_gpu.py                                  # 50M rows, every tool
    python benchmarks/run_gpu.py --tools duckdb,polars --rows 100000   # CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from benchmarks.run_standard import (
    BENCH,
    JOB,
    POLL_SECONDS,
    Measured,
    chosen_tools,
    disagreements,
    ensure_data,
    environment,
    run_assay,
    run_peer,
)

TOOLS = ("assay-cudf", "assay-pandas", "duckdb", "polars")
SPILL_LINE = "cuDF spilled"  # logged by assay.pipelines.cluster when a cuDF run spilled


class GpuMemoryPeak:
    """Polls ``nvidia-smi`` for the used memory of every visible GPU, keeping the peak of
    their sum (MiB), while a ``with`` block runs. None where there is no nvidia-smi."""

    def __init__(self) -> None:
        self.tool = shutil.which("nvidia-smi")
        self.peak_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _used_mib(self) -> float | None:
        try:
            out = subprocess.run([self.tool, "--query-gpu=memory.used",
                                  "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, timeout=5, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        return sum(float(v) for v in out.split())

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS * 4):  # nvidia-smi itself takes ~50 ms
            used = self._used_mib()
            if used is not None:
                self.peak_mib = max(self.peak_mib or 0.0, used)

    def __enter__(self) -> GpuMemoryPeak:
        if self.tool:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def spec_with_cluster(out: Path, name: str, cluster: dict[str, object]) -> Path:
    """The standard job's spec with another ``cluster`` section, written as ``name``."""
    spec = yaml.safe_load((JOB / "pipeline.yaml").read_text())
    spec["cluster"] = cluster
    path = out / f"pipeline-{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def gpu_spec(out: Path, threads: int) -> Path:
    """One worker per visible GPU with ``threads`` threads (the host CSV parser runs in
    them), host memory as Dask decides (cuDF spills to host), other GPU keys at defaults."""
    return spec_with_cluster(out, "gpu", {"memory_limit": "auto", "threads_per_worker": threads})


def cpu_spec(out: Path, workers: int) -> Path:
    """``workers`` worker processes of 2 threads (every core of a big machine: threads of one
    process would share its GIL), host memory split between them."""
    return spec_with_cluster(out, "cpu", {"workers": workers, "threads_per_worker": 2,
                                          "processes": True, "memory_limit": "auto"})


def run_tool(tool: str, data: Path, out: Path, pandas_workers: int, gpu_threads: int
             ) -> Measured:
    if tool == "assay-cudf":
        with GpuMemoryPeak() as gpu:
            result = run_assay(data, out, None, name=tool, options=("--backend", "cudf"),
                               spec=gpu_spec(out, gpu_threads))
        result.extra["gpu_peak_mib"] = gpu.peak_mib
        result.extra["spilled"] = SPILL_LINE in result.extra.get("stderr_tail", "")
        return result
    if tool == "assay-pandas":
        return run_assay(data, out, None, name=tool, options=("--backend", "pandas"),
                         spec=cpu_spec(out, pandas_workers))
    return run_peer(tool, data, out)


def report(results: list[Measured], rows: int) -> str:
    """Wall, rows/s and each tool's wall over assay-on-cuDF's (how many times slower)."""
    gpu = next((r for r in results if r.tool == "assay-cudf" and r.error is None), None)
    head = f"{'tool':<14}{'wall s':>9}{'peak MiB':>10}{'rows/s':>14}   wall / assay-cudf"
    lines = [head, "-" * len(head)]
    for r in results:
        if r.error is not None:
            lines.append(f"{r.tool:<14}FAILED (exit {r.returncode}): "
                         f"{r.error.splitlines()[-1] if r.error else ''}")
            continue
        ratio = f"{r.wall_s / gpu.wall_s:>18.2f}x" if gpu else ""
        lines.append(f"{r.tool:<14}{r.wall_s:>9.2f}{r.peak_mib:>10.0f}"
                     f"{rows / r.wall_s:>14,.0f}{ratio}")
    for r in results:  # where each assay run's wall time went
        if r.tool.startswith("assay") and r.error is None and r.engine_s is not None:
            phases = ", ".join(f"{name} {seconds:.2f} s"
                               for name, seconds in r.extra.get("phases_s", {}).items())
            lines.append(f"{r.tool}: engine {r.engine_s:.2f} s, {phases}")
    if gpu is not None:
        peak = gpu.extra.get("gpu_peak_mib")
        lines.append(f"GPU memory peak (all GPUs): "
                     f"{'n/a (no nvidia-smi)' if peak is None else f'{peak:,.0f} MiB'}; "
                     f"cuDF spilled to host: {'yes' if gpu.extra.get('spilled') else 'no'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes generating the data (first run only)")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--pandas-workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="assay-pandas worker processes of 2 threads (default: all cores)")
    parser.add_argument("--gpu-threads", type=int, default=8,
                        help="threads of each GPU worker (they parse CSV on the host)")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file [benchmarks/out/gpu_job-<rows>.json]")
    args = parser.parse_args(argv)
    tools = chosen_tools(parser, args.tools, TOOLS)

    data = ensure_data(args.rows, args.seed, args.files, args.jobs)
    out = BENCH / "out" / "gpu_job"
    results = []
    for tool in tools:
        results.append(run_tool(tool, data, out, args.pandas_workers, args.gpu_threads))
        print(f"  {tool}: {results[-1].wall_s:.2f} s"
              + (" FAILED" if results[-1].error else ""), file=sys.stderr)

    # run_standard's count check knows one "assay": both backends are checked under it
    problems = disagreements([Measured(**{**asdict(r), "tool": "assay"})
                              if r.tool.startswith("assay") else r for r in results])
    print(f"\nstandard job, {args.rows:,} rows in {args.files} CSV files, "
          f"{os.cpu_count()} CPUs\n")
    print(report(results, args.rows))
    for r in results:
        if r.error:
            print(f"\n{r.tool} failed:\n{r.error}", file=sys.stderr)
    for line in problems:
        print(f"DISAGREE: {line}", file=sys.stderr)
    path = args.json or BENCH / "out" / f"gpu_job-{args.rows}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"job": "standard", "rows": args.rows, "files": args.files,
                                "environment": environment(),
                                "results": [asdict(r) for r in results],
                                "agree": not problems}, indent=2) + "\n")
    print(f"\nresults: {path}")
    return 1 if problems or any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
