"""``assay doctor``: is the GPU path live here, and if not, why not.

It answers the questions an install problem raises (which backend ``auto`` picks, which
GPUs are visible, which RAPIDS packages are installed, what the cluster's memory settings
are) in plain ``key: value`` lines, and always exits 0: it diagnoses, it does not judge.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from assay.pipelines.backend import resolve_backend, visible_gpus
from assay.pipelines.errors import EXIT_INVALID_SPEC, SpecError
from assay.pipelines.spec import ClusterSpec, load_spec

# Distributions to report, each under the names it is published as (CUDA 12/13 wheels).
PACKAGES: dict[str, tuple[str, ...]] = {
    "cudf": ("cudf-cu13", "cudf-cu12", "cudf"),
    "dask-cudf": ("dask-cudf-cu13", "dask-cudf-cu12", "dask-cudf"),
    "dask-cuda": ("dask-cuda",),
    "rmm": ("rmm-cu13", "rmm-cu12", "rmm"),
    "cupy": ("cupy-cuda13x", "cupy-cuda12x", "cupy"),
    "distributed-ucxx": ("distributed-ucxx-cu13", "distributed-ucxx-cu12", "distributed-ucxx"),
    "dask": ("dask",),
    "distributed": ("distributed",),
    "pandas": ("pandas",),
    "pyarrow": ("pyarrow",),
}
GPU_SETTINGS = ("cuda_visible_devices", "rmm_pool_size", "rmm_async", "device_memory_limit",
                "enable_cudf_spill", "protocol")


def installed_version(names: tuple[str, ...]) -> str:
    """The version of the first of ``names`` that is installed, read from its metadata
    (nothing is imported), or 'not installed'."""
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return f"{version} ({name})" if len(names) > 1 else version
    return "not installed"


def _as_spec_writes(value: object) -> str:
    """A setting as a spec writes it (``null``, ``true``), not as Python prints it (None)."""
    return value if isinstance(value, str) else json.dumps(value)


def report_lines(cluster: ClusterSpec) -> list[str]:
    """The doctor's report: backend, GPUs, package versions, GPU cluster settings."""
    chosen = resolve_backend("auto")
    gpus = visible_gpus()
    lines = [f"backend (auto): {chosen.backend} ({chosen.reason})",
             f"CUDA_VISIBLE_DEVICES: {os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}",
             f"GPUs visible: {len(gpus)}"]
    lines += [f"  GPU {gpu.index}: {gpu.name} ({gpu.uuid})" for gpu in gpus]
    lines += [f"{name}: {installed_version(names)}" for name, names in PACKAGES.items()]
    lines += [f"cluster.{key}: {_as_spec_writes(getattr(cluster, key))}" for key in GPU_SETTINGS]
    lines.append(f"CUDF_SPILL (environment): {os.environ.get('CUDF_SPILL', '(unset)')}")
    return lines


def doctor(
    spec: Annotated[
        Path | None,
        typer.Argument(help="A pipeline spec whose cluster settings to show (default: the "
                       "defaults).", metavar="[SPEC]", show_default=False),
    ] = None,
) -> None:
    """Show the backend auto picks, visible GPUs, RAPIDS versions and RMM/spill settings."""
    try:
        cluster = load_spec(spec).cluster if spec is not None else ClusterSpec()
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID_SPEC) from None
    for line in report_lines(cluster):
        print(line)
