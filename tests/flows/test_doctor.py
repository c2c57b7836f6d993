"""``assay doctor`` on a machine without a GPU: it reports, and exits 0."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assay.flows.cli import app
from assay.flows.doctor import installed_version

SAMPLE = Path(__file__).parents[2] / "data_samples" / "events" / "pipeline.yaml"


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")


def test_doctor_reports_backend_gpus_versions_and_settings(no_gpu: None) -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "backend (auto): pandas (auto: no GPU is visible and cudf, dask_cudf " \
                       "not installed)"
    assert "CUDA_VISIBLE_DEVICES: 0" in lines
    assert "GPUs visible: 0" in lines
    assert "cudf: not installed" in lines
    assert "dask-cuda: not installed" in lines
    assert "dask: 2026.7.1" in lines
    assert any(line.startswith("pandas: 3.") for line in lines)
    assert "cluster.rmm_pool_size: 0.5" in lines
    assert "cluster.enable_cudf_spill: true" in lines  # as a spec writes it
    assert "cluster.cuda_visible_devices: null" in lines
    assert not [line for line in lines if line.endswith(("None", "True", "False"))]


def test_doctor_shows_a_specs_cluster_settings(no_gpu: None, tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE.read_text())
    data.pop("gates", None)
    data["source"]["paths"] = [str(SAMPLE.parent / p) for p in data["source"]["paths"]]
    data["cluster"] = {"rmm_pool_size": "8GiB", "protocol": "ucx"}
    spec = tmp_path / "gpu.yaml"
    spec.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["doctor", str(spec)])
    assert result.exit_code == 0, result.output
    assert f"cluster.rmm_pool_size: {8 * 2**30}" in result.stdout
    assert "cluster.protocol: ucx" in result.stdout


def test_doctor_with_a_bad_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\n")
    result = CliRunner().invoke(app, ["doctor", str(spec)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_installed_version_names_the_wheel_it_found() -> None:
    assert installed_version(("no-such-dist-cu13", "pandas")).endswith("(pandas)")
    assert installed_version(("no-such-dist",)) == "not installed"
