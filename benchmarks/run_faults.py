"""What faults cost: SIGKILL of ``assay run`` at each kill point, SIGKILL of a Dask worker
mid-run, a sink that runs out of space, transient and permanent read errors.

Each scenario checks the outcome the tests check (the table's last version untouched and
readable, the recovered version byte-identical to an undisturbed run's, nothing left
behind) and times it against an undisturbed run of the same job:

    python benchmarks/run_faults.py                 # 1M rows (the default)
    python benchmarks/run_faults.py --rows 100000   # smoke run

Data and datasets go to ``benchmarks/out/faults/`` (git-ignored); the figures are printed
as JSON and written to ``benchmarks/out/faults/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assay.pipelines import killpoints  # noqa: E402
from tests import fault_kit as kit  # noqa: E402

ASSAY = str(Path(sys.executable).parent / "assay")


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return round(time.perf_counter() - started, 2), result


def _assay(folder: Path, sink: Path | str, pause: str | None = None, inputs: str | None = None
           ) -> subprocess.Popen:
    env = {**os.environ, "ASSAY_DAEMON": "off"}  # each run its own process, as faults need
    if pause:
        env[killpoints.VARIABLE] = pause
    return subprocess.Popen(
        [ASSAY, "run", str(folder / "pipeline.yaml"), "-i", inputs or str(folder / "uploads"),
         "-o", str(sink)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True)  # its own group: Prefect's server is a child


def _finish(run: subprocess.Popen) -> None:
    _, errors = run.communicate()
    if run.returncode != 0:
        raise SystemExit(f"assay run failed ({run.returncode}): {errors}")


def _wait_for(marker: Path) -> None:
    while not marker.exists():
        time.sleep(0.02)


def kill_points(folder: Path, reference: Path, undisturbed_s: float) -> list[dict]:
    """SIGKILL ``assay run`` at each point, then run again; the recovery must equal version 0."""
    rows = []
    for point in killpoints.POINTS:
        sink = folder / f"killed-{point}"
        shutil.copytree(reference, sink)
        marker = folder / f"paused-{point}"
        started = time.perf_counter()
        run = _assay(folder, sink, pause=f"{point}:{marker}")
        _wait_for(marker)
        reached_s = round(time.perf_counter() - started, 2)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        os.killpg(run.pid, signal.SIGKILL)  # what the dead run left running (Prefect's server)
        committed = point == "committed"  # the dead run's version landed
        assert kit.latest(sink) == (1 if committed else 0)
        kit.assert_same_dataset(sink, 0, reference, 0)
        recovery_s, _ = _timed(lambda sink=sink: _finish(_assay(folder, sink)))
        recovered = 2 if committed else 1
        kit.assert_nothing_left(sink, recovered)
        kit.assert_same_dataset(sink, recovered, reference, 0)
        rows.append({"point": point, "killed_after_s": reached_s, "recovery_run_s": recovery_s,
                     "recovery_minus_undisturbed_s": round(recovery_s - undisturbed_s, 2),
                     "survived": True})
        marker.unlink()
    return rows


def _set_environment(name: str, value: str) -> None:
    os.environ[name] = value


def worker_kills(folder: Path, reference: Path) -> dict:
    """SIGKILL one of two worker processes at a point; the run must finish and equal version 0."""
    import dask
    from distributed import Client, LocalCluster

    import assay
    from assay.pipelines.spec import load_spec

    spec = load_spec(folder / "pipeline.yaml")
    uploads = [str(folder / "uploads")]
    result: dict[str, Any] = {"workers": 2, "runs": []}
    with dask.config.set({"dataframe.shuffle.method": "p2p"}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        assay.run(spec, uploads, str(folder / "workers-warm-up"), client=client)
        sink = folder / "workers-undisturbed"
        result["undisturbed_s"], _ = _timed(lambda: assay.run(spec, uploads, str(sink),
                                                              client=client))
        for point in ("read", "staging-write"):
            marker = folder / f"worker-paused-{point}"
            client.run(_set_environment, killpoints.VARIABLE, f"{point}:{marker}")
            sink = folder / f"workers-killed-{point}"
            started = time.perf_counter()
            with ThreadPoolExecutor(1) as pool:
                run = pool.submit(assay.run, spec, uploads, str(sink), client=client)
                _wait_for(marker)
                killed_at = time.perf_counter() - started
                os.kill(int(marker.read_text()), signal.SIGKILL)
                run.result()
            total = time.perf_counter() - started
            kit.assert_nothing_left(sink, 0)
            kit.assert_same_dataset(sink, 0, reference, 0)
            result["runs"].append({"point": point, "killed_after_s": round(killed_at, 2),
                                   "run_s": round(total, 2),
                                   "minus_undisturbed_s": round(total - result["undisturbed_s"],
                                                                2),
                                   "survived": True})
    return result


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from assay.flows.cli import app

    return CliRunner().invoke(app, list(args))


def full_sink(folder: Path, reference: Path) -> dict:
    """A sink with 64 KiB left; nothing may be published, staging must be cleaned."""
    sink = folder / "full"
    shutil.copytree(reference, sink)
    kit.BudgetFileSystem.limit(64 * 1024)
    try:
        seconds, outcome = _timed(lambda: _cli("run", str(folder / "pipeline.yaml"), "-i",
                                               str(folder / "uploads"), "-o",
                                               f"budget://{sink}"))
    finally:
        kit.BudgetFileSystem.limit(None)
    message = [line for line in outcome.stderr.splitlines() if line.startswith("error:")]
    kit.assert_nothing_left(sink, 0)
    return {"exit_code": outcome.exit_code, "message": message, "failed_after_s": seconds,
            "latest_unchanged": True, "staging_cleaned": True}


def read_errors(folder: Path) -> dict:
    """Reads through a store that fails its next N opens, with the flow's real retry delay;
    the recovered run must equal the undisturbed run through the same store."""
    from assay.pipelines import retries

    uploads = f"flaky://{folder / 'uploads'}"
    spec = str(folder / "pipeline.yaml")
    figures: dict[str, Any] = {"retries": retries.IO_RETRIES,
                               "retry_delay_s": retries.IO_RETRY_DELAY_SECONDS}
    for name, failures in (("undisturbed", 0), ("transient", 2), ("permanent", 10**6)):
        sink = folder / f"reads-{name}"
        kit.FlakyFileSystem.arm(failures)
        seconds, outcome = _timed(lambda s=sink: _cli("run", spec, "-i", uploads, "-o", str(s)))
        figures[name] = {"exit_code": outcome.exit_code, "wall_s": seconds,
                         "failed_reads": kit.FlakyFileSystem.failed}
        if name == "permanent":
            figures[name]["message"] = [line for line in outcome.stderr.splitlines()
                                        if line.startswith("error:")]
            assert kit.latest(sink) is None
        else:
            kit.assert_same_dataset(sink, 0, folder / "reads-undisturbed", 0)
    kit.FlakyFileSystem.arm(0)
    figures["transient_cost_s"] = round(figures["transient"]["wall_s"]
                                        - figures["undisturbed"]["wall_s"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "faults")
    args = parser.parse_args()
    os.environ.setdefault("ASSAY_DATA_DIR", str(args.out / "data-dir"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")  # as the CLI
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    kit.register_faulty_filesystems()
    kit.write_uploads(args.out, rows=args.rows)
    kit.write_spec(args.out)
    reference = args.out / "undisturbed"
    undisturbed_s, _ = _timed(lambda: _finish(_assay(args.out, reference)))
    results = {
        "rows": args.rows,
        "input_bytes": (args.out / "uploads" / "a.csv").stat().st_size,
        "undisturbed_run_s": undisturbed_s,
        "kill_points": kill_points(args.out, reference, undisturbed_s),
        "worker_kills": worker_kills(args.out, reference),
        "full_sink": full_sink(args.out, reference),
        "read_errors": read_errors(args.out),
    }
    text = json.dumps(results, indent=2)
    (args.out / "results.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
