"""The standard-job benchmark: assay against DuckDB, Polars and a plain pandas script.

Generates N dirty event rows once (cached under benchmarks/data/), runs each tool in a fresh
subprocess, and measures its wall time and the peak memory of its whole process tree (the
RSS of the process and all its children, summed, polled every 50 ms: assay's Dask workers
and Prefect's server are child processes, and a fair number has to include them). The row
counts of all tools must agree, else the run fails. Also measured: ``assay run`` on a 10-row
upload (fixed start-up cost; best of 3, with no Prefect server configured, against a
running ``prefect server start`` (its flow run recorded through the REST API; with
``--prefect``, through Prefect's flow engine, for reference), and against it through
``assay daemon``; every one of those runs must be a completed flow run on the server) and
assay's engine time as its own summary reports it.
The output ends with issue 15's targets, one PASS or FAIL line each.

    python benchmarks/run_standard.py                          # 4M and 16M rows, every tool
    python benchmarks/run_standard.py --rows 100000            # smoke run
    python benchmarks/run_standard.py --rows 4000000 --tools assay,duckdb

Summing RSS counts pages shared between processes more than once (a slight overestimate
for multi-process tools); it is what the OOM killer and a container limit see, roughly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from data_samples.generate import dirty_events, write_csv_files  # noqa: E402

BENCH = ROOT / "benchmarks"
JOB = BENCH / "standard_job"
PYTHON = sys.executable
# the CLI beside this interpreter; ASSAY_CLI names another (an image with no assay script)
ASSAY = os.environ.get("ASSAY_CLI") or str(Path(PYTHON).with_name("assay"))
PEERS = ("duckdb", "polars", "pandas")
TOOLS = ("assay", *PEERS)
# assay's step labels in pipeline.yaml -> the peers' reasons (job.py), to compare per reason
ASSAY_STAGES = {
    "parse_timestamp": "bad timestamp",
    "amount_present": "null amount",
    "range_filter": "amount out of range",
    "country_allowed": "country not allowed",
}
POLL_SECONDS = 0.05


@dataclass
class Measured:
    tool: str
    wall_s: float
    peak_mib: float
    returncode: int
    counts: dict[str, Any] | None = None
    engine_s: float | None = None  # assay only: the engine's own wall time
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def measure(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, int, str, str]:
    """Run ``cmd``; return (wall seconds, peak process-tree RSS in MiB, returncode, stdout,
    stderr). Output goes to files, not pipes, so a chatty tool can never block on a full
    pipe while we poll."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc))
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return wall, peak / 2**20, proc.returncode, out.read(), err.read()


def _tree_rss(proc: psutil.Process) -> int:
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


# -- data -------------------------------------------------------------------------------------


def _write_slice(rows: int, seed: int, files: int, folder: Path, prefix: str) -> list[Path]:
    return write_csv_files(dirty_events(rows, seed), folder, n_files=files, prefix=prefix)


def ensure_data(rows: int, seed: int, files: int, jobs: int = 1) -> Path:
    """The cached CSV uploads for (rows, seed, files); generated once, marked complete last.

    ``jobs`` > 1 generates that many slices in parallel processes (seeds ``seed * 1000 + i``,
    duplicates within a slice): other data than one process makes, so cached apart."""
    name = f"events-{rows}-s{seed}-f{files}" + (f"-j{jobs}" if jobs > 1 else "")
    folder = BENCH / "data" / name
    marker = folder / "COMPLETE.json"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        sizes = [rows // jobs + (i < rows % jobs) for i in range(jobs)]
        seeds = [seed * 1000 + i for i in range(jobs)]
        prefixes = [f"events-{i:02d}" for i in range(jobs)]
        with ProcessPoolExecutor(jobs) as pool:
            slices = pool.map(_write_slice, sizes, seeds, [max(1, files // jobs)] * jobs,
                              [folder] * jobs, prefixes)
            paths = [path for written in slices for path in written]
    else:
        paths = write_csv_files(dirty_events(rows, seed), folder, n_files=files)
    info = {
        "rows": rows,
        "seed": seed,
        "files": len(paths),
        "jobs": jobs,
        "seconds": time.perf_counter() - started,
        "bytes": sum(p.stat().st_size for p in paths),
    }
    marker.write_text(json.dumps(info, indent=2))
    print(
        f"generated {rows:,} rows in {info['seconds']:.1f} s "
        f"({info['bytes'] / 2**20:.0f} MiB) -> {folder}",
        file=sys.stderr,
    )
    return folder


def tiny_upload() -> Path:
    """A 10-row upload, for assay's fixed cost."""
    folder = BENCH / "data" / "tiny"
    if not (folder / "events-000.csv").exists():
        write_csv_files(dirty_events(10, seed=1), folder, n_files=1)
    return folder


# -- tools ------------------------------------------------------------------------------------


def run_peer(tool: str, data: Path, out: Path) -> Measured:
    cmd = [
        PYTHON,
        "-m",
        f"benchmarks.standard_job.peer_{tool}",
        "--input",
        str(data / "*.csv"),
        "--output",
        str(out / tool),
    ]
    wall, peak, rc, stdout, stderr = measure(cmd)
    result = Measured(tool, wall, peak, rc)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), None)
    if rc != 0 or line is None:
        result.error = _tail(stderr or stdout)
    else:
        result.counts = json.loads(line.removeprefix("RESULT "))
    return result


def summary_times(stdout: str) -> tuple[float | None, dict[str, float]]:
    """The engine's seconds and the other phases' from an ``assay run`` summary."""
    engine = re.search(r"engine time\D*?([\d.]+) s", stdout)
    phases = re.findall(r"(plan|cluster start|cluster stop|publish) time\D*?([\d.]+) s",
                        stdout)
    return (float(engine.group(1)) if engine else None,
            {name: float(seconds) for name, seconds in phases})


def run_assay(data: Path, out: Path, workers: int | None, name: str = "assay",
              options: tuple[str, ...] = (), spec: Path = JOB / "pipeline.yaml",
              env: dict[str, str] | None = None) -> Measured:
    """``assay run`` of the standard job (``spec``: a variant of its pipeline.yaml);
    ``options`` are extra CLI options (``--backend``), ``env`` its environment (this
    process's by default)."""
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    cmd = [
        ASSAY,
        "run",
        str(spec),
        "--input",
        str(data / "*.csv"),
        "--output",
        str(target),
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    cmd += list(options)
    # a wide, plain terminal so the summary table is one parseable line per row; by
    # default each run in its own process, launching no run daemon (an ``env`` says its own)
    base = {**os.environ, "ASSAY_DAEMON": "off"} if env is None else env
    plain = {**base, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    wall, peak, rc, stdout, stderr = measure(cmd, plain)
    result = Measured(name, wall, peak, rc)
    result.extra["stderr_tail"] = _tail(stderr, 20)  # e.g. the cuDF spilling line
    # host fallbacks and device failures of the cuDF backend, wherever they were logged
    result.extra["backend_log"] = [line for line in stderr.splitlines()
                                   if "cuDF backend" in line][:20]
    result.engine_s, result.extra["phases_s"] = summary_times(stdout)
    if rc != 0:
        result.error = _tail(stderr or stdout)
        return result
    try:
        result.counts = assay_counts(target)
    except (OSError, KeyError, ValueError) as exc:
        result.error = f"no manifest to read counts from: {exc}"
    return result


def assay_counts(dataset: Path) -> dict[str, Any]:
    """The peers' counts, read from the newest version's manifest (plain JSON: this script
    runs where assay is only a CLI)."""
    manifests = [json.loads(p.read_text()) for p in dataset.glob("_assay/runs/*/manifest.json")]
    acc = max(manifests, key=lambda m: m["version"])["accounting"]
    by_reason = {
        ASSAY_STAGES.get(stage, stage): n for stage, n in acc["quarantined_by_stage"].items()
    }
    return {
        "read": acc["rows_read"],
        "curated": acc["rows_written"],
        "quarantined": acc["rows_quarantined"],
        "duplicates": acc["dropped_by_step"].get("dedup", 0),
        "by_reason": dict(sorted(by_reason.items())),
    }


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# -- report -----------------------------------------------------------------------------------


def best_of(runs: list[Measured]) -> Measured:
    """The fastest successful run, with the highest peak seen in any of them."""
    ok = [r for r in runs if r.error is None] or runs
    best = min(ok, key=lambda r: r.wall_s)
    best.extra["walls_s"] = [round(r.wall_s, 3) for r in runs]
    best.peak_mib = max(r.peak_mib for r in runs)
    return best


def disagreements(results: list[Measured]) -> list[str]:
    counted = [r for r in results if r.counts is not None and r.tool in TOOLS]
    if not counted:
        return []
    reference = counted[0]
    return [
        f"{r.tool} {r.counts} != {reference.tool} {reference.counts}"
        for r in counted[1:]
        if r.counts != reference.counts
    ]


def table(results: list[Measured], rows: int) -> str:
    assay = next((r for r in results if r.tool == "assay" and r.error is None), None)
    head = (
        f"{'tool':<12}{'wall s':>9}{'peak MiB':>10}{'rows/s':>12}{'curated':>11}"
        f"{'quarant.':>10}{'dups':>8}   assay/peer: wall  peak  engine"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        if r.error is not None:
            lines.append(
                f"{r.tool:<12}FAILED (exit {r.returncode}): "
                f"{r.error.splitlines()[-1] if r.error else ''}"
            )
            continue
        c = r.counts or {}
        n = c.get("read", rows)
        ratio = ""
        if assay is not None and r.tool in PEERS:
            ratio = f"{assay.wall_s / r.wall_s:>17.2f}x {assay.peak_mib / r.peak_mib:>4.2f}x"
            if assay.engine_s is not None:
                ratio += f" {assay.engine_s / r.wall_s:>6.2f}x"
        lines.append(
            f"{r.tool:<12}{r.wall_s:>9.2f}{r.peak_mib:>10.0f}{n / r.wall_s:>12,.0f}"
            f"{c.get('curated', ''):>11}{c.get('quarantined', ''):>10}"
            f"{c.get('duplicates', ''):>8}{ratio}"
        )
    if assay is not None and assay.engine_s is not None:
        lines.append(f"assay engine time (its summary's engine time): {assay.engine_s:.2f} s")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "versions": {n: ver(n) for n in ("assay", "dask", "pandas", "pyarrow", "duckdb", "polars")},
    }


def chosen_tools(parser: argparse.ArgumentParser, value: str, known: tuple[str, ...]
                 ) -> list[str]:
    """The ``--tools`` list; an unknown name is a usage error (exit 2)."""
    tools = [t.strip() for t in value.split(",") if t.strip()]
    unknown = set(tools) - set(known)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; choose from {known}")
    return tools


FIXED_COST_RUNS = 3


def fixed_costs(out: Path, workers: int | None) -> dict[str, Measured]:
    """``assay run`` on a 10-row upload, best of ``FIXED_COST_RUNS``: with no Prefect
    server configured (an empty profile, no PREFECT_API_URL), and reporting to a running
    ``prefect server start`` (not counted: it runs before and after)."""
    from assay.flows.server import local_server

    with tempfile.TemporaryDirectory() as scratch:
        alone = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        alone["PREFECT_PROFILES_PATH"] = str(Path(scratch) / "no-profiles.toml")
        alone["ASSAY_DAEMON"] = "off"  # in process; the daemon's line below uses one
        costs = {"no server": best_of([
            run_assay(tiny_upload(), out, workers, name="assay-10-rows", env=alone)
            for _ in range(FIXED_COST_RUNS)])}
        with local_server(Path(scratch)) as api_url:
            served = {**alone, "PREFECT_API_URL": api_url}
            costs["running server"] = best_of([
                run_assay(tiny_upload(), out, workers, name="assay-10-rows", env=served)
                for _ in range(FIXED_COST_RUNS)])
            # for reference (no target): the same through Prefect's flow engine
            costs["running server, --prefect"] = best_of([
                run_assay(tiny_upload(), out, workers, name="assay-10-rows", env=served,
                          options=("--prefect",)) for _ in range(FIXED_COST_RUNS)])
            with run_daemon(served) as (daemon_env, log):
                runs = [run_assay(tiny_upload(), out, workers, name="assay-10-rows",
                                  env=daemon_env) for _ in range(FIXED_COST_RUNS)]
                costs["running server, daemon"] = best_of(runs)
                # the run's CPU is its forked child's, which the daemon logs as it reaps it
                costs["running server, daemon"].extra["child_cpu_s"] = [
                    round(float(user) + float(system), 3) for user, system in
                    re.findall(r"CPU ([\d.]+) s user ([\d.]+) s sys", log.read_text())]
            _check_visible(api_url, costs, 3 * FIXED_COST_RUNS)
    return costs


def _check_visible(api_url: str, costs: dict[str, Measured], expected: int) -> None:
    """Every run against the server is a completed flow run there, else the server line
    fails: the target counts only runs still visible in Prefect."""
    import httpx

    completed = httpx.post(f"{api_url}/flow_runs/count", json={
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}).json()
    costs["running server"].extra["completed_flow_runs"] = f"{completed} of {expected}"
    if completed != expected:
        costs["running server"].error = (f"{completed} of the {expected} runs against the "
                                         "server are completed flow runs there")


@contextlib.contextmanager
def run_daemon(env: dict[str, str]) -> Iterator[tuple[dict[str, str], Path]]:
    """``assay daemon start`` (not counted) for a data directory of its own, stopped after;
    yields the clients' environment and the daemon's log."""
    data_dir = Path(tempfile.mkdtemp(prefix="assay-bench-"))  # a socket path is <= 107 bytes
    daemon_env = {**env, "ASSAY_DATA_DIR": str(data_dir), "ASSAY_DAEMON": "manual"}
    started = subprocess.run([ASSAY, "daemon", "start"], env=daemon_env, capture_output=True,
                             text=True, cwd=ROOT)
    if started.returncode != 0:
        raise RuntimeError(f"assay daemon start failed: {started.stderr.strip()}")
    try:
        yield daemon_env, data_dir / "daemon" / "daemon.log"
    finally:
        subprocess.run([ASSAY, "daemon", "stop"], env=daemon_env, capture_output=True,
                       cwd=ROOT)
        shutil.rmtree(data_dir, ignore_errors=True)


def run_size(rows: int, args: argparse.Namespace, tools: list[str]) -> dict[str, Any]:
    """Every tool on ``rows`` rows (best of ``--repeat``), printed and returned as JSON."""
    data = ensure_data(rows, args.seed, args.files)
    out = BENCH / "out" / "standard_job"
    results: list[Measured] = []
    for tool in tools:
        runs = []
        for _ in range(args.repeat):
            runs.append(
                run_assay(data, out, args.workers) if tool == "assay" else run_peer(tool, data, out)
            )
            print(
                f"  {tool}: {runs[-1].wall_s:.2f} s, {runs[-1].peak_mib:.0f} MiB"
                + (" FAILED" if runs[-1].error else ""),
                file=sys.stderr,
            )
        results.append(best_of(runs))
    problems = disagreements(results)
    print(f"\nstandard job, {rows:,} rows in {args.files} CSV files, {os.cpu_count()} CPUs\n")
    print(table(results, rows))
    for r in results:
        if r.error:
            print(f"\n{r.tool} failed:\n{r.error}", file=sys.stderr)
    for line in problems:
        print(f"DISAGREE: {line}", file=sys.stderr)
    return {"rows": rows, "results": results, "agree": not problems}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(sizes: list[dict[str, Any]], fixed: dict[str, Measured]
            ) -> list[tuple[str, float | None, float, str]]:
    """Issue 15's targets as (what, measured, limit, unit): met when measured <= limit;
    None when this run did not measure it."""
    lines: list[tuple[str, float | None, float, str]] = []
    per_row: dict[int, float] = {}
    for size in sizes:
        got = {r.tool: r for r in size["results"] if r.error is None}
        assay, duckdb, polars = got.get("assay"), got.get("duckdb"), got.get("polars")
        label = f"{size['rows'] / 1e6:g}M rows"
        lines += [
            (f"{label}: whole assay run / DuckDB, wall", _ratio(
                assay and assay.wall_s, duckdb and duckdb.wall_s), 1.0, "x"),
            (f"{label}: assay engine / Polars, wall", _ratio(
                assay and assay.engine_s, polars and polars.wall_s), 1.3, "x"),
            (f"{label}: assay peak memory / DuckDB's", _ratio(
                assay and assay.peak_mib, duckdb and duckdb.peak_mib), 1.0, "x"),
        ]
        if assay is not None:
            per_row[size["rows"]] = assay.wall_s / size["rows"]
    if len(per_row) > 1:
        small, large = min(per_row), max(per_row)
        lines.append((f"assay time per row, {large / 1e6:g}M / {small / 1e6:g}M rows",
                      per_row[large] / per_row[small], 1.1, "x"))
    for mode, limit in (("no server", 2.0), ("running server", 1.5),
                        ("running server, daemon", 1.5)):
        measured = fixed.get(mode)
        ok = measured is not None and measured.error is None
        lines.append((f"fixed cost, 10 rows, {mode}", measured.wall_s if ok else None,
                      limit, "s"))
    return lines


def print_targets(lines: list[tuple[str, float | None, float, str]]) -> None:
    print("\nissue 15 targets:")
    for what, measured, limit, unit in lines:
        if measured is None:
            print(f"  n/a   {what} (not measured in this run)")
        else:
            verdict = "PASS" if measured <= limit else "FAIL"
            print(f"  {verdict}  {what}: {measured:.2f}{unit} (target <= {limit:g}{unit})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="4000000,16000000",
                        help="comma-separated sizes, each run with every tool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; best wall kept")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="assay --workers (default: the spec's cluster.workers)",
    )
    parser.add_argument(
        "--no-overhead", action="store_true", help="skip assay's 10-row fixed-cost runs"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="results file [benchmarks/out/standard_job-<rows>.json]",
    )
    args = parser.parse_args(argv)
    tools = chosen_tools(parser, args.tools, TOOLS)
    sizes = [run_size(int(rows), args, tools) for rows in args.rows.split(",")]
    fixed = {} if "assay" not in tools or args.no_overhead else fixed_costs(
        BENCH / "out" / "standard_job", args.workers)
    for mode, overhead in fixed.items():
        state = "" if overhead.error is None else f" FAILED: {overhead.error.splitlines()[-1]}"
        engine = f", engine {overhead.engine_s:.2f} s" if overhead.engine_s else ""
        child = overhead.extra.get("child_cpu_s")
        cpu = f", the daemon's child {min(child):.2f} s CPU {child}" if child else ""
        if visible := overhead.extra.get("completed_flow_runs"):
            cpu += f", completed flow runs on the server: {visible}"
        print(f"assay fixed cost (10-row upload, {mode}): {overhead.wall_s:.2f} s wall "
              f"{overhead.extra['walls_s']}{engine}{cpu}, {overhead.peak_mib:.0f} MiB peak"
              f"{state}")
    verdicts = targets(sizes, fixed)
    print_targets(verdicts)

    report = {
        "job": "standard",
        "seed": args.seed,
        "files": args.files,
        "repeat": args.repeat,
        "environment": environment(),
        "sizes": [{**size, "results": [asdict(r) for r in size["results"]]} for size in sizes],
        "assay_fixed_cost": {mode: asdict(m) for mode, m in fixed.items()},
        "targets": [{"what": w, "measured": m, "limit": lim, "unit": u}
                    for w, m, lim, u in verdicts],
    }
    path = args.json or BENCH / "out" / f"standard_job-{args.rows.replace(',', '+')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {path}")
    failed = any(not size["agree"] or any(r.error for r in size["results"]) for size in sizes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
