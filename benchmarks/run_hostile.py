"""Every hostile upload of ``data_samples/hostile.py`` through the engine, each in its own
process: the outcome, the wall time and the process's peak RSS (``wait4``'s ru_maxrss,
exact per child). The baseline row is a one-row good upload: the cost of Python, Dask,
pyarrow and a local cluster before any data.

    python benchmarks/run_hostile.py [--out benchmarks/out/hostile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from data_samples.hostile import CASES, Case, write_cases  # noqa: E402

RUNNER = """
import sys
from assay.pipelines.errors import AssayError
import assay
from assay.pipelines.spec import load_spec
try:
    version = assay.run(sys.argv[1])
    a = version.manifest["accounting"]
    print(f"published {a['rows_written']} rows, quarantined {a['rows_quarantined']}")
except AssayError as exc:
    print(f"{type(exc).__name__}: {exc}")
"""
BASELINE = Case("baseline.csv", "a good one-row upload", lambda rng: b"id,name,amount\n1,a,1\n",
                "published", "", written=1)


def measure(case: Case, upload: Path, folder: Path) -> tuple[str, float, float]:
    """(outcome line, wall seconds, peak RSS MiB) of one case in a fresh process."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spec = folder / "pipeline.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "hostile", "source": {"paths": [str(upload)], **case.source},
        "schema": case.schema, "sink": {"path": "out"},
        "cluster": {"workers": 1, "processes": False}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", RUNNER, str(spec)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    return output.strip().splitlines()[-1] if output.strip() else "(no output)", wall, \
        usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "hostile")
    args = parser.parse_args()
    # Written by a child: a forked process starts with its parent's peak RSS, so this one
    # never holds the 100 MB case
    cases = args.out.resolve() / "cases"
    subprocess.run([sys.executable, "-m", "data_samples.hostile", str(cases)], check=True,
                   cwd=ROOT)
    write_cases(cases, [BASELINE])
    rows = []
    for case in [BASELINE, *CASES]:
        upload = cases / case.name.replace(".", "_") / case.name
        outcome, wall, peak = measure(case, upload, args.out / "runs" / case.name)
        rows.append((case, outcome, wall, peak))
        print(f"{case.name:26} {wall:6.2f} s {peak:8.0f} MiB  {outcome[:110]}", flush=True)
    outcomes = Counter(case.outcome for case, *_ in rows[1:])
    worst = max(rows[1:], key=lambda row: row[3])
    print(f"\n{len(CASES)} cases, {len({c.kind for c in CASES})} kinds: "
          + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())))
    print(f"baseline peak RSS {rows[0][3]:.0f} MiB; worst case {worst[0].name}: "
          f"{worst[3]:.0f} MiB in {worst[2]:.1f} s")


if __name__ == "__main__":
    main()
