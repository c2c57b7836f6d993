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


def test_profile_chain_times_every_phase_of_a_partition(tmp_path: Path) -> None:
    """The per-partition profile the GPU lease runs on both backends, here on pandas."""
    from benchmarks.profile_chain import profile, table

    upload = tmp_path / "events.csv"
    upload.write_text("event_id,ts,user,country,amount,text\n"
                      "1,2024-01-01T00:00:00Z, Ann ,us,5.0,hi\n"
                      "2,yesterday,bob,DE,7.5,x\n"  # quarantined: bad timestamp
                      "3,2024-01-02T00:00:00+01:00,cy,FR,,y\n")  # quarantined: null amount
    result = profile(JOB / "pipeline.yaml", [str(upload)], "pandas", partitions=3)
    assert (result["backend"], result["partitions"], result["rows"]) == ("pandas", 1, 3)
    phases = result["median_s"]
    assert {"read", "step parse_timestamp", "mask parse_timestamp", "whole chain",
            "shards"} <= phases.keys()
    assert "step dedup" not in phases  # a global step: a stage of the graph
    assert all(seconds >= 0 for seconds in phases.values())
    assert "whole chain" in table(result)


def test_gpu_text_report_gives_the_speed_up_and_whether_removals_agree() -> None:
    import numpy as np

    from benchmarks.run_gpu_text import report

    run = {"error": None, "work_wall_s": 20.0, "removed_ids": np.array([3, 9]),
           "peak_process_mib": 400.0}
    lines = report({"pandas": run, "cudf": {**run, "work_wall_s": 1.0}}, docs=50_000)
    assert lines[0] == "pandas: 20.00 s work, 2,500 docs/s, 2 removed, peak per process 400 MiB"
    assert lines[-1] == "cuDF / pandas speed: 20.00x (target 10x: PASS); identical removals: yes"
    other = {**run, "work_wall_s": 10.0, "removed_ids": np.array([3])}
    assert report({"pandas": run, "cudf": other}, docs=50_000)[-1] == \
        "cuDF / pandas speed: 2.00x (target 10x: FAIL); identical removals: NO"
    failed = report({"pandas": run, "cudf": {**run, "error": "boom"}}, docs=50_000)
    assert failed[-1] == "cudf: FAILED\nboom"
