"""assay installs one import package, ``assay``, whatever the install mode.

The layers keep their top-level folders and are mapped into ``assay`` by setuptools'
``package-dir``. Their bare names (``pipelines``, ``transforms``, ...) belong to unrelated
PyPI packages, and a training repository may hold a ``transforms.py``: assay must neither
install them nor pick them up. Each install goes into a fresh virtual environment whose
dependencies come from this one (a ``.pth`` line), from a copy of the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import assay

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SAMPLES = [ROOT / "data_samples" / name / "pipeline.yaml" for name in ("events", "records")]


def _package_folders() -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under a mapped folder, by its import name."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = {}
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found[".".join([package, *relative.parts])] = init.parent
    return found


def test_every_package_folder_is_a_listed_package() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert set(_package_folders()) == listed


def test_the_layer_folders_are_mapped_into_assay() -> None:
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert all(name == "assay" or name.startswith("assay.") for name in mapping)
    for layer in ("pipelines", "transforms", "validation", "flows"):
        assert mapping[f"assay.{layer}"] == layer


def test_the_bootstrap_compiles_every_layer_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """``.ci/bootstrap.py`` writes the layers' bytecode (as a wheel install would): its list
    must name every mapped layer, and the call must leave a current ``.pyc`` behind."""
    import importlib.util

    monkeypatch.syspath_prepend(str(ROOT / ".ci"))
    import bootstrap

    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert set(bootstrap.LAYERS) == set(mapping.values())
    source = ROOT / "flows" / "launcher.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.unlink(missing_ok=True)
    bootstrap.compile_layers()
    assert cached.stat().st_mtime >= source.stat().st_mtime


def test_a_bare_layer_name_refuses_to_import() -> None:
    """From the checkout's root the folders are on ``sys.path``: importing one by its bare
    name would make a second copy of every module (and of the step registry)."""
    done = subprocess.run([sys.executable, "-c", "import transforms"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "import assay.transforms, not transforms" in done.stderr


def _checkout_copy(destination: Path) -> Path:
    """The tracked and new files of the checkout (no virtual environment, no build output)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in listed.splitlines():
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _environment(folder: Path) -> Path:
    """A virtual environment that sees this one's packages, but not its assay install."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def _install(python: Path, source: Path, *mode: str) -> None:
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         *mode, str(source)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _hostile_folder(folder: Path) -> Path:
    """A training repository's working directory: its own ``transforms.py`` and
    ``validation`` package, either of which would shadow a bare-name import."""
    folder.mkdir()
    (folder / "transforms.py").write_text("raise RuntimeError('the user transforms.py')\n")
    (folder / "validation").mkdir()
    (folder / "validation" / "__init__.py").write_text("raise RuntimeError('user validation')\n")
    return folder


def _python(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=120)


INSTALLS = {
    "wheel": (),
    "editable": ("--editable",),
    "strict-editable": ("--config-settings", "editable_mode=strict", "--editable"),
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(INSTALLS))
def test_an_install_provides_assay_only_and_ignores_the_working_folder(
        tmp_path: Path, mode: str) -> None:
    source = _checkout_copy(tmp_path / "checkout")
    python = _environment(tmp_path / "venv")
    _install(python, source, *INSTALLS[mode])
    hostile = _hostile_folder(tmp_path / "training-repo")

    where = _python(python, hostile, "-c", "import assay.flows.cli as m; print(m.__file__)")
    assert where.returncode == 0, where.stderr
    installed = Path(where.stdout.strip())
    assert installed.is_relative_to(tmp_path)  # this install, not the developer's
    for bare in ("pipelines", "flows"):
        refused = _python(python, hostile, "-c", f"import {bare}")
        assert "ModuleNotFoundError" in refused.stderr, refused.stderr
    for spec in SAMPLES:
        checked = _python(python, hostile, "-m", "assay", "validate", str(spec))
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_a_wheel_holds_one_top_level_package(tmp_path: Path) -> None:
    source = _checkout_copy(tmp_path / "checkout")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("assay-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    metadata = f"assay-{assay.__version__}.dist-info"
    assert {name.split("/")[0] for name in names} == {"assay", metadata}
    assert zipfile.ZipFile(wheel).read(f"{metadata}/top_level.txt").split() == [b"assay"]
    for package, folder in _package_folders().items():
        for module in folder.glob("*.py"):
            assert f"{package.replace('.', '/')}/{module.name}" in names
