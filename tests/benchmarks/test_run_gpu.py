"""The GPU benchmark's CPU-checkable parts: its spec variant, report and GPU polling."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.pipelines.spec import load_spec
from benchmarks.run_gpu import GpuMemoryPeak, cpu_spec, gpu_spec, main, report
from benchmarks.run_standard import JOB, Measured


def test_gpu_spec_is_the_standard_job_on_one_worker_per_gpu(tmp_path: Path) -> None:
    standard, gpu = load_spec(JOB / "pipeline.yaml"), load_spec(gpu_spec(tmp_path, 8))
    assert gpu.steps == standard.steps and gpu.schema_ == standard.schema_
    assert gpu.cluster.workers is None  # Dask-CUDA: one per visible GPU
    assert gpu.cluster.memory_limit == "auto"
    assert gpu.cluster.threads_per_worker == 8  # the host CSV parser runs in them


def test_cpu_spec_spreads_the_standard_job_over_worker_processes(tmp_path: Path) -> None:
    standard, cpu = load_spec(JOB / "pipeline.yaml"), load_spec(cpu_spec(tmp_path, 8))
    assert cpu.steps == standard.steps and cpu.schema_ == standard.schema_
    assert (cpu.cluster.workers, cpu.cluster.threads_per_worker) == (8, 2)
    assert cpu.cluster.processes is True  # threads of one process would share its GIL


def test_report_gives_ratios_to_assay_on_cudf_gpu_peak_and_spilling() -> None:
    results = [
        Measured("assay-cudf", 2.0, 900, 0, engine_s=1.25, extra={
            "gpu_peak_mib": 12_345.0, "spilled": True,
            "phases_s": {"plan": 0.5, "cluster start": 0.1}}),
        Measured("duckdb", 6.0, 500, 0),
        Measured("polars", 1.0, 400, 1, error="boom"),
    ]
    text = report(results, rows=1_000_000)
    assert "3.00x" in text
    assert "polars        FAILED (exit 1): boom" in text
    assert "assay-cudf: engine 1.25 s, plan 0.50 s, cluster start 0.10 s" in text
    assert text.endswith("GPU memory peak (all GPUs): 12,345 MiB; cuDF spilled to host: yes")


def test_gpu_memory_is_not_polled_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with GpuMemoryPeak() as gpu:
        pass
    assert gpu.peak_mib is None


def test_unknown_tools_are_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--tools", "assay-cudf,spark"])
    assert exited.value.code == 2
