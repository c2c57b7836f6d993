"""Pack the wheels of ``.gpu/all`` into chunk folders ``.gpu/c01``... of at most 61 MiB.

The lent GPU machine reaches no package index and takes 64 MiB per call (tree included), so
wheels travel in chunks, the CPU stack first (assay's own dependencies, DuckDB, Polars) so
the CPU half of the benchmark can start while cuDF's libraries still travel. A wheel that
crosses a chunk boundary is cut into parts ``WHEEL.part-K-of-N`` (``unpack.py`` joins them).

    python benchmarks/gpu_lease/pack.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

from packaging.version import Version

LIMIT = 59 * 2**20
ROOT = Path(".gpu")
CPU_COMPLETE = "CPU_STACK_COMPLETE"  # marker file in the chunk that completes the CPU stack
GPU_WHEELS = ("libcudf", "nvidia_libnvcomp", "pylibcudf", "librmm", "libkvikio", "numba_cuda",
              "nvtx", "cudf_cu", "rmm_cu", "dask_cuda", "dask_cudf", "rapids_logger")


def pieces(wheels: list[Path]) -> list[tuple[int, str, bytes]]:
    """(chunk number, file name, bytes) for every wheel or part of one, in order."""
    out: list[tuple[int, str, bytes]] = []
    chunk, used = 1, 0
    for wheel in wheels:
        data, parts = wheel.read_bytes(), []
        while data:
            if used == LIMIT:
                chunk, used = chunk + 1, 0
            take = data[:LIMIT - used]
            parts.append((chunk, take))
            used, data = used + len(take), data[len(take):]
        for k, (number, blob) in enumerate(parts):
            name = wheel.name if len(parts) == 1 else f"{wheel.name}.part-{k}-of-{len(parts)}"
            out.append((number, name, blob))
    return out


def one_version(wheels: list[Path]) -> list[Path]:
    """One wheel per distribution: the lowest version where two were downloaded (the
    resolver's pick under assay's constraints; the unconstrained RAPIDS list takes the
    newest), since two versions extracted into one site folder leave both metadata."""
    chosen: dict[str, Path] = {}
    for wheel in wheels:
        name, number = wheel.name.split("-")[:2]
        if name not in chosen or Version(number) < Version(chosen[name].name.split("-")[1]):
            chosen[name] = wheel
    return sorted(chosen.values())


def main() -> None:
    wheels = one_version(sorted((ROOT / "all").glob("*.whl")))
    cpu = [w for w in wheels if not w.name.startswith(GPU_WHEELS)]
    gpu = sorted((w for w in wheels if w.name.startswith(GPU_WHEELS)),
                 key=lambda w: -w.stat().st_size)
    for old in ROOT.glob("c[0-9]*"):
        shutil.rmtree(old)
    placed = pieces(cpu + gpu)
    for number, name, blob in placed:
        folder = ROOT / f"c{number:02d}"
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(blob)
    # the chunk that completes the CPU stack starts the CPU half of the benchmark (chunk.sh)
    last_cpu = max(number for number, name, _ in placed if not name.startswith(GPU_WHEELS))
    (ROOT / f"c{last_cpu:02d}" / CPU_COMPLETE).touch()
    for folder in sorted(ROOT.glob("c[0-9]*")):
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"{folder}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
