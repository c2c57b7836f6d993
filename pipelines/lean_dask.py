"""Importing ``dask.dataframe`` without the parts assay never uses.

On the 2-core development machine importing ``dask.dataframe`` takes about 1.7 s, nearly
half of a 10-row ``assay run`` (issue 15's fixed cost, ``benchmarks/RESULTS.md``). Three
parts of it serve nothing a run does, or are slow for no reason:

- ``dask.array`` (which ``dask.dataframe`` imports) imports SciPy for its FFT wrappers and
  its sparse chunk types: about 0.4 s. assay builds no Dask arrays.
- ``dask.utils.derived_from`` rewrites the docstrings of about 700 wrapped pandas and NumPy
  methods while the modules load (``inspect.signature`` and a regular expression per
  argument): about 0.35 s, for help text nobody reads in a pipeline run.
- Its default configuration (``dask.yaml``) is read with PyYAML's pure-Python
  ``safe_load``; libyaml's loader reads the same values about eight times faster.

:func:`import_dask_lean` imports it with SciPy hidden, that docstring rewriting skipped
and ``yaml.safe_load`` on libyaml, then puts all three back: SciPy imports as usual
afterwards (Great Expectations needs it), a method that pandas lacks still gets Dask's
own ``NotImplementedError`` wrapper. Only the CLI, the run daemon and a run's process
workers (``assay.pipelines.workers.ImportDaskLean``, where SciPy is 18 MiB of a worker's
memory at rest) call it, so ``import assay`` from Python leaves a user's Dask as it is.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

HIDDEN = "scipy"


class _Hidden:
    """A meta path finder that makes one top-level package look uninstalled."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name == self.package or name.startswith(self.package + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextmanager
def _package_hidden(package: str) -> Iterator[None]:
    finder = _Hidden(package)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def _without_docstrings(derived_from: Callable[..., Any]) -> Callable[..., Any]:
    """``dask.utils.derived_from`` that leaves the method's docstring alone; a method the
    original class lacks still goes through Dask's decorator (its error wrapper)."""

    def lean(original_klass: type, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        def decorate(method: Any) -> Any:
            if hasattr(original_klass, method.__name__):
                return method
            return derived_from(original_klass, *args, **kwargs)(method)

        return decorate

    return lean


@contextmanager
def _docstrings_not_derived() -> Iterator[None]:
    utils = importlib.import_module("dask.utils")
    original = utils.derived_from
    utils.derived_from = _without_docstrings(original)
    try:
        yield
    finally:
        utils.derived_from = original


@contextmanager
def _yaml_on_libyaml() -> Iterator[None]:
    """``yaml.safe_load`` through libyaml's safe loader, where PyYAML was built with it."""
    yaml = importlib.import_module("yaml")
    loader = getattr(yaml, "CSafeLoader", None)
    original = yaml.safe_load
    if loader is not None:
        yaml.safe_load = lambda stream: yaml.load(stream, Loader=loader)
    try:
        yield
    finally:
        yaml.safe_load = original


def import_dask_lean() -> None:
    """Import ``dask.dataframe`` (once) without SciPy, without derived docstrings, reading
    Dask's configuration with libyaml. ``distributed`` is left to the runs that start a
    cluster (``assay.pipelines.in_process``)."""
    if "dask.dataframe" in sys.modules:
        return
    with _package_hidden(HIDDEN), _yaml_on_libyaml(), _docstrings_not_derived():
        importlib.import_module("dask.dataframe")
