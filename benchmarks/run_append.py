"""Appending an upload with dataset-wide dedup, as the table grows: assay's append against
the same upload's ad-hoc run (into an empty folder) and against DuckDB doing the same
anti-join over the table's Parquet files, in one run.

The table is built by assay itself (appends of clean event chunks, so it has the dedup
index) to 5M, 10M and 20M rows; at each size the upload's ad-hoc run goes first, then a copy
of the table takes the append (the table stays at its size), then DuckDB answers the same
question. A warm-up run, not measured, pays the cold caches first. The upload is 1M rows, a tenth
of them copies of rows in the table (which the dedup must drop), the rest new. Counts must
agree: assay's rows added equal DuckDB's, else the run fails.

    python benchmarks/run_append.py                  # the issue's sizes (20M-row table)
    python benchmarks/run_append.py --scale 0.1      # every size a tenth (2 cores: minutes)

Measured per run, in a fresh subprocess: wall time; for assay its engine time (from the
run's summary) and the peak RSS of its largest worker process (the spec's cluster runs 2
worker processes), polled every 50 ms; for DuckDB the peak RSS of its process. assay runs
through ``assay.run`` (``append_job/run_assay.py``), not the CLI, whose Prefect server
start-up is the same for every run and not what is compared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from benchmarks.run_standard import PYTHON  # noqa: E402
from data_samples.generate import EventDirt, csv_bytes, dirty_events  # noqa: E402

BENCH = ROOT / "benchmarks"
SPEC = BENCH / "append_job" / "pipeline.yaml"
TABLE_ROWS = (5_000_000, 10_000_000, 20_000_000)
UPLOAD_ROWS = 1_000_000
TWIN_FRACTION = 0.1
NO_DIRT = EventDirt(**{name: 0.0 for name in EventDirt.__dataclass_fields__})
POLL_SECONDS = 0.05


@dataclass
class Measured:
    what: str
    wall_s: float
    peak_mib: float  # assay: its largest worker process; DuckDB: its process
    rows_added: int | None
    engine_s: float | None = None


def ensure_data(scale: float) -> tuple[list[Path], Path]:
    """Table chunks (clean events, one per 5M rows of table) and the upload, generated once
    per scale: the upload's twins are drawn from the first chunk, so every table holds them."""
    folder = BENCH / "data" / f"append-{scale:g}"
    chunk_rows = round(TABLE_ROWS[0] * scale)
    chunks = [folder / f"table-{i:03d}.csv" for i in range(TABLE_ROWS[-1] // TABLE_ROWS[0])]
    upload = folder / "upload.csv"
    if upload.exists():
        return chunks, upload
    folder.mkdir(parents=True, exist_ok=True)
    first = None
    for seed, path in enumerate(chunks):
        rows = dirty_events(chunk_rows, seed, NO_DIRT)
        first = rows if first is None else first
        path.write_bytes(csv_bytes(rows))
    upload_rows = round(UPLOAD_ROWS * scale)
    twins = round(upload_rows * TWIN_FRACTION)
    rng = np.random.default_rng(0)
    fresh = dirty_events(upload_rows - twins, 100, NO_DIRT)
    mixed = pd.concat([fresh, first.iloc[rng.choice(len(first), twins, replace=False)]])
    draft = upload.with_suffix(".tmp")
    draft.write_bytes(csv_bytes(mixed.iloc[rng.permutation(len(mixed))]))
    draft.rename(upload)  # last: a complete cache
    return chunks, upload


def measure(cmd: list[str]) -> tuple[float, int, list[int], int, str]:
    """Run ``cmd``; wall seconds, its process's peak RSS and each child process's, return
    code, and stdout (stderr on failure)."""
    started = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=-1, stderr=-1, cwd=ROOT, text=True,
                        env={**os.environ, "ASSAY_DAEMON": "off", "COLUMNS": "200",
                             "NO_COLOR": "1", "TERM": "dumb"})
    peaks: dict[int, int] = {proc.pid: 0}
    while proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - started
    stdout, stderr = proc.communicate()
    own = peaks.pop(proc.pid)
    return wall, own, list(peaks.values()), proc.returncode, (
        stdout if proc.returncode == 0 else stderr)


def run_assay(what: str, inputs: list[Path], sink: Path) -> Measured:
    cmd = [PYTHON, "-m", "benchmarks.append_job.run_assay", str(SPEC), str(sink),
           *map(str, inputs)]
    wall, _, workers, rc, out = measure(cmd)
    if rc != 0:
        raise SystemExit(f"{what}: assay failed:\n{out[-3000:]}")
    result = json.loads(out.split("RESULT ", 1)[1])
    return Measured(what, wall, max(workers, default=0) / 2**20, result["rows_added"],
                    result["engine_s"])


def run_duckdb(what: str, upload: Path, table: Path, out: Path) -> Measured:
    cmd = [PYTHON, "-m", "benchmarks.append_job.peer_duckdb", str(upload), str(table), str(out)]
    wall, own, _, rc, stdout = measure(cmd)
    if rc != 0:
        raise SystemExit(f"{what}: DuckDB failed:\n{stdout[-3000:]}")
    result = json.loads(stdout.split("RESULT ", 1)[1])
    return Measured(what, wall, own / 2**20, result["rows_added"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every row count (table sizes, upload)")
    args = parser.parse_args(argv)
    chunks, upload = ensure_data(args.scale)
    out = BENCH / "out" / f"append-{args.scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    table, trial = out / "table", out / "trial"
    run_assay("warm-up", [upload], trial)  # the first run pays cold caches
    results: list[Measured] = []
    built = 0
    for size in TABLE_ROWS:
        while built < size:  # grow the table with assay appends (not measured)
            run_assay("build", [chunks[built // TABLE_ROWS[0]]], table)
            built += TABLE_ROWS[0]
        rows = f"{round(size * args.scale):,}"
        shutil.rmtree(trial)
        results.append(run_assay(f"ad-hoc (beside {rows})", [upload], trial))
        shutil.rmtree(trial)
        shutil.copytree(table, trial)
        results.append(run_assay(f"append to {rows}", [upload], trial))
        results.append(run_duckdb(f"DuckDB over {rows}", upload, table, out / "duckdb.parquet"))
        if results[-1].rows_added != results[-2].rows_added:
            raise SystemExit(f"rows added disagree: {results[-2]} against {results[-1]}")
    report(results, args.scale, out)


def report(results: list[Measured], scale: float, out: Path) -> None:
    """A table with each run's wall and engine time over the ad-hoc run measured beside it
    (the same upload into an empty folder, just before)."""
    print(f"{'run':<28}{'wall s':>8}{'x ad-hoc':>9}{'engine s':>9}{'x ad-hoc':>9}"
          f"{'peak MiB':>9}{'rows added':>12}")
    for r in results:
        if r.what.startswith("ad-hoc"):
            ad_hoc = r
        engine = (f"{r.engine_s:>9.2f}{r.engine_s / ad_hoc.engine_s:>9.2f}"
                  if r.engine_s is not None else " " * 18)
        print(f"{r.what:<28}{r.wall_s:>8.2f}{r.wall_s / ad_hoc.wall_s:>9.2f}{engine}"
              f"{r.peak_mib:>9.0f}{r.rows_added:>12,}")
    (out / "results.json").write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "scale": scale,
        "machine": f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
                   f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "results": [asdict(r) for r in results]}, indent=2))


if __name__ == "__main__":
    main()
