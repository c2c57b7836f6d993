"""``import_dask_lean``: ``dask.dataframe`` without SciPy and without derived docstrings, and
everything as before once it returns. Each case runs in a fresh interpreter: this test
process has imported Dask long ago."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LEAN = "from assay.pipelines.lean_dask import import_dask_lean\nimport_dask_lean()\n"


def _fresh(code: str, cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dask_dataframe_works_without_scipy_and_scipy_still_imports_after(
        tmp_path: Path) -> None:
    seen = _fresh(LEAN + (
        "import json, sys\n"
        "import dask.dataframe as dd, pandas as pd\n"
        "frame = dd.from_pandas(pd.DataFrame({'a': [3, 1, 2]}), npartitions=2)\n"
        "total = int(frame.a.sum().compute(scheduler='sync'))\n"
        "before = 'scipy' in sys.modules\n"
        "import scipy.sparse\n"  # Great Expectations needs it later in the same process
        "print(json.dumps({'scipy_before': before, 'total': total,\n"
        "                  'scipy_after': 'scipy.sparse' in sys.modules}))\n"), tmp_path)
    assert seen == {"scipy_before": False, "total": 6, "scipy_after": True}


def test_only_the_docstrings_differ_and_dask_utils_is_put_back(tmp_path: Path) -> None:
    seen = _fresh(LEAN + (
        "import json, dask.utils, dask.dataframe as dd\n"
        "doc = dd.DataFrame.fillna.__doc__ or ''\n"
        "lean = dask.utils.derived_from.__module__ == 'assay.pipelines.lean_dask'\n"
        "print(json.dumps({'pandas_doc': 'This docstring was copied from' in doc,\n"
        "                  'patched_after': lean}))\n"), tmp_path)
    assert seen == {"pandas_doc": False, "patched_after": False}


def test_the_configuration_read_through_libyaml_is_dasks_own(tmp_path: Path) -> None:
    """The same defaults as a plain import reads, and ``yaml.safe_load`` put back after."""
    dump = ("import json, dask, distributed, yaml\n"
            "print(json.dumps({'config': json.dumps(dask.config.config, sort_keys=True,\n"
            "                                       default=repr),\n"
            "                  'safe_load': yaml.safe_load.__module__}))\n")
    lean, plain = _fresh(LEAN + dump, tmp_path), _fresh(dump, tmp_path)
    assert lean["config"] == plain["config"]
    assert "distributed" in json.loads(lean["config"])
    assert lean["safe_load"] == plain["safe_load"] == "yaml"


def test_a_method_the_original_class_lacks_still_gets_dasks_error_wrapper(
        tmp_path: Path) -> None:
    """The decorator's other job: Dask replaces a method the pandas class lacks with one
    that raises ``NotImplementedError``; the lean decorator keeps that."""
    seen = _fresh((
        "import json\nfrom assay.pipelines.lean_dask import _without_docstrings\n"
        "from dask.utils import derived_from\n"
        "class Original:\n    def present(self): 'original doc'\n"
        "lean = _without_docstrings(derived_from)\n"
        "def present(self): return 1\n"
        "present = lean(Original)(present)\n"
        "def absent(self): return 1\n"
        "absent = lean(Original)(absent)\n"
        "try:\n    absent(None)\n    raised = False\n"
        "except NotImplementedError:\n    raised = True\n"
        "print(json.dumps({'present': present(None), 'raised': raised}))\n"), tmp_path)
    assert seen == {"present": 1, "raised": True}


def test_the_cli_launcher_imports_no_scipy_for_a_run(tmp_path: Path) -> None:
    """What the launcher loads before typer runs (``assay --help`` parses nothing heavy)."""
    seen = _fresh((
        "import json, sys\nsys.argv = ['assay', '--help']\n"
        "from assay.flows import launcher\n"
        "try:\n    launcher.main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps({'dask': 'dask.dataframe' in sys.modules,\n"
        "                  'scipy': 'scipy' in sys.modules}))\n"), tmp_path)
    assert seen == {"dask": True, "scipy": False}
