"""Choosing the frame backend of a run: pandas on CPU, cuDF on GPU.

``auto`` picks cuDF only when a GPU is visible *and* cuDF imports. GPUs are found without
importing cuDF (``CUDA_VISIBLE_DEVICES``, then ``nvidia-smi -L``, then pynvml), so a CPU
machine never pays for, or trips over, a CUDA import. Asking for ``cudf`` where it cannot
run is a user error (exit 2, one line), not a crash.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from assay.pipelines.errors import SpecError

BackendChoice = Literal["auto", "pandas", "cudf"]
GPU_MODULES = ("cudf", "dask_cudf")  # both are needed: partitions and Dask's cuDF readers
HINT = ("see `assay doctor`; GPU install: pip install 'assay[gpu-cu12]' (or gpu-cu13); "
        "or use --backend pandas")

_SMI_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)")


class BackendUnavailable(SpecError):
    """``--backend cudf`` (or ``backend: cudf``) where no GPU is visible or cuDF is absent."""


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    uuid: str


@dataclass(frozen=True)
class Resolution:
    """The backend a run uses and why (shown by ``assay doctor`` and the run's log)."""

    backend: Literal["pandas", "cudf"]
    reason: str


def _masked(gpus: list[Gpu], visible: str | None) -> list[Gpu]:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` leaves (indices or UUID prefixes, in its order).

    An empty value, ``-1`` or an unknown entry hides the rest, as the CUDA runtime does."""
    if visible is None:
        return gpus
    kept: list[Gpu] = []
    for entry in (e.strip() for e in visible.split(",")):
        match = next((g for g in gpus if entry and (entry == str(g.index)
                                                    or g.uuid.startswith(entry))), None)
        if match is None:
            break
        kept.append(match)
    return kept


def _nvidia_smi() -> list[Gpu] | None:
    """GPUs listed by ``nvidia-smi -L``; None when the tool is absent or fails."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=10,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [Gpu(int(m[1]), m[2], m[3]) for line in listed.splitlines()
            if (m := _SMI_LINE.match(line.strip()))]


def _pynvml() -> list[Gpu] | None:
    """GPUs seen by NVML (the ``nvidia-ml-py`` package), when it is installed."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver or no libnvidia-ml: NVMLError's subclasses
        return None
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                   for i in range(pynvml.nvmlDeviceGetCount())]
        return [Gpu(i, str(pynvml.nvmlDeviceGetName(h)), str(pynvml.nvmlDeviceGetUUID(h)))
                for i, h in enumerate(handles)]
    finally:
        pynvml.nvmlShutdown()


def visible_gpus() -> list[Gpu]:
    """The GPUs this process may use, without importing cuDF or initialising CUDA."""
    gpus = _nvidia_smi()
    if gpus is None:
        gpus = _pynvml() or []
    return _masked(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_stack_problem() -> str | None:
    """Why cuDF cannot be used here (a missing module, or its import error), else None.

    Imports cuDF: call only when a GPU is visible or cuDF was asked for."""
    for name in GPU_MODULES:
        try:
            importlib.import_module(name)
        # Broad on purpose: this reports why the stack does not import, and cuDF's import
        # checks the CUDA setup, raising rmm's CUDARuntimeError, cudf.errors'
        # UnsupportedCUDAError (a plain Exception), OSError for a missing libcudart, ...:
        # types that cannot be named without the import that failed.
        except Exception as exc:
            return f"{name} does not import ({type(exc).__name__}: {exc})"
    return None


def _no_gpu_problem() -> str:
    """Why cuDF cannot run when no GPU is visible; says whether cuDF is installed at all,
    without importing it."""
    missing = [name for name in GPU_MODULES if importlib.util.find_spec(name) is None]
    installed = f" and {', '.join(missing)} not installed" if missing else ""
    return f"no GPU is visible{installed}"


def resolve_backend(requested: BackendChoice) -> Resolution:
    """The backend to run on; raise BackendUnavailable when ``cudf`` is asked for and
    cannot run."""
    if requested == "pandas":
        return Resolution("pandas", "requested")
    gpus = visible_gpus()
    problem = _no_gpu_problem() if not gpus else gpu_stack_problem()
    if problem is None:
        return Resolution("cudf", f"{'requested' if requested == 'cudf' else 'auto'}: "
                                  f"{len(gpus)} GPU(s) visible, cuDF imports")
    if requested == "cudf":
        raise BackendUnavailable(f"backend 'cudf' requested but {problem} ({HINT})")
    return Resolution("pandas", f"auto: {problem}")
