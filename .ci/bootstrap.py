#!/usr/bin/env python3
"""Set up the project's virtual environment and run the demo or the tests.

    python3 .ci/bootstrap.py demo   # .venv + `pip install -e .`, then run the sample pipeline
    python3 .ci/bootstrap.py test   # .venv + `pip install -e .[dev]`, then pytest -q -n 2

``test`` also makes sure Debian's ``chromium`` is there (the HTML report is checked in a real
headless browser): installed with apt-get when running as root, else a note that the browser
test will skip.

Standard library only, so it runs on a bare Python 3.11+. The install is skipped when
``.venv`` already holds it for the current pyproject.toml (a stamp file records the hash),
so a second call starts the demo or the tests at once. Extra arguments go to assay or pytest.
Every call also compiles the project's own modules to bytecode, as installing a wheel does
(an editable install does not): about 0.2 s of every ``assay`` start on a Python that, like
CI's, is told not to write bytecode itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".assay-install.json"
DEMO_SPEC = "data_samples/events/pipeline.yaml"
PYTEST_NO_TESTS = 5
LAYERS = ("src/assay", "flows", "pipelines", "transforms", "validation")  # assay's folders


def venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _installed() -> dict[str, str]:
    """Extras installed so far ("" for the base install) and the pyproject hash of each."""
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def ensure_venv(extra: str = "") -> None:
    """Create .venv if absent, install the project (with ``extra``) unless up to date, and
    compile its modules."""
    if not venv_bin("python").exists():
        print(f"bootstrap: creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    _install(extra)
    compile_layers()


def _install(extra: str) -> None:
    """``pip install -e .[extra]`` unless the stamp says it is done for this pyproject."""
    digest = _pyproject_hash()
    installed = {k: v for k, v in _installed().items() if v == digest}
    if extra in installed:
        return
    target = f".[{extra}]" if extra else "."
    print(f"bootstrap: pip install -e {target}", flush=True)
    subprocess.run(
        [str(venv_bin("python")), "-m", "pip", "install", "--quiet", "-e", target],
        cwd=ROOT,
        check=True,
    )
    installed.update({"": digest, extra: digest})  # an extra install includes the base one
    STAMP.write_text(json.dumps(installed, indent=1, sort_keys=True))


def compile_layers() -> None:
    """Bytecode for the layers' modules (only those changed since: compileall checks)."""
    subprocess.run([str(venv_bin("python")), "-m", "compileall", "-q", *LAYERS], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def demo(args: list[str]) -> int:
    ensure_venv()
    return subprocess.run([str(venv_bin("assay")), "run", DEMO_SPEC, *args], cwd=ROOT).returncode


def ensure_chromium() -> None:
    """Debian's chromium for the report's browser test; apt-get needs root, so elsewhere
    the test skips (it says why) and this says how to install it."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        print("bootstrap: chromium not found; the HTML report's browser test will skip "
              "(install it: apt-get install chromium)", file=sys.stderr, flush=True)
        return
    print("bootstrap: apt-get install chromium", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    installed = (
        subprocess.run(["apt-get", "update", "-qq"], env=env).returncode == 0
        and subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                            "chromium"], env=env).returncode == 0)
    if not installed:  # no package mirror: the suite still runs, the browser test skips
        print("bootstrap: apt-get could not install chromium; the HTML report's browser "
              "test will skip", file=sys.stderr, flush=True)


def test(args: list[str]) -> int:
    ensure_venv("dev")
    ensure_chromium()
    code = subprocess.run(
        [str(venv_bin("python")), "-m", "pytest", "-q", "-n", "2", *args], cwd=ROOT
    ).returncode
    if code == PYTEST_NO_TESTS:
        print("bootstrap: pytest collected no tests; that is a failure", file=sys.stderr)
        return 1
    return code


COMMANDS = {"demo": demo, "test": test}


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 (this runs on whatever python3 is)
        print("bootstrap: Python 3.11 or newer is required", file=sys.stderr)
        return 1
    if not argv or argv[0] not in COMMANDS:
        usage = f"usage: python3 .ci/bootstrap.py {{{'|'.join(COMMANDS)}}} [ARGS...]"
        print(usage, file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except subprocess.CalledProcessError as exc:
        command = " ".join(map(str, exc.cmd))
        print(f"bootstrap: {command} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
