"""Backend choice and the GPU cluster's settings, on a machine without a GPU or cuDF.

GPUs are faked with an ``nvidia-smi`` script on PATH, and cuDF with stand-in modules in
``sys.modules``: the two things that cannot exist here. Everything else is real.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dask.utils import Dispatch
from typer.testing import CliRunner

from assay.flows.cli import app
from assay.pipelines import backend as be
from assay.pipelines.cluster import _require_gpus, _require_ucx, _run_config, cuda_cluster_kwargs
from assay.pipelines.errors import EXIT_INVALID_SPEC, SpecError
from assay.pipelines.spec import ClusterSpec, parse_spec
from assay.transforms import frame as fr
from assay.transforms.timestamps import parse_timestamps

SAMPLE = Path(__file__).parents[2] / "data_samples" / "events" / "pipeline.yaml"
DEVICE_SIDE = "assay.transforms.frame_cudf"
SMI_OUTPUT = ("GPU 0: NVIDIA H200 (UUID: GPU-aaaa1111)\n"
              "GPU 1: NVIDIA H200 (UUID: GPU-bbbb2222)\n")


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH without nvidia-smi, and no NVML."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A fake ``nvidia-smi`` listing two GPUs, first on PATH."""
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] && printf '{SMI_OUTPUT}'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def fake_cudf(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in be.GPU_MODULES:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))


def test_gpus_from_nvidia_smi(two_gpus: None) -> None:
    assert be.visible_gpus() == [be.Gpu(0, "NVIDIA H200", "GPU-aaaa1111"),
                                 be.Gpu(1, "NVIDIA H200", "GPU-bbbb2222")]


@pytest.mark.parametrize(("visible", "indices"), [
    ("1", [1]), ("1,0", [1, 0]), ("GPU-bbbb", [1]), ("", []), ("-1", []), ("0,7,1", [0]),
])
def test_cuda_visible_devices_is_respected(two_gpus: None, monkeypatch: pytest.MonkeyPatch,
                                           visible: str, indices: list[int]) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [gpu.index for gpu in be.visible_gpus()] == indices


def test_no_gpu_visible_without_tools(no_gpu: None) -> None:
    assert be.visible_gpus() == []


def test_pandas_is_pandas_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(be, "visible_gpus", lambda: pytest.fail("probed GPUs"))
    assert be.resolve_backend("pandas") == be.Resolution("pandas", "requested")


def test_auto_without_gpu_is_pandas_and_never_imports_cudf(no_gpu: None,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(be, "gpu_stack_problem", lambda: pytest.fail("imported cuDF"))
    chosen = be.resolve_backend("auto")
    assert chosen.backend == "pandas"
    assert chosen.reason.startswith("auto: no GPU is visible")


def test_auto_with_gpu_but_no_cudf_says_why(two_gpus: None, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setitem(sys.modules, "cudf", None)  # importing it raises ImportError
    chosen = be.resolve_backend("auto")
    assert chosen.backend == "pandas"
    assert "cudf does not import" in chosen.reason


def test_auto_with_gpu_and_cudf_is_cudf(two_gpus: None, fake_cudf: None) -> None:
    assert be.resolve_backend("auto") == be.Resolution(
        "cudf", "auto: 2 GPU(s) visible, cuDF imports")
    assert be.resolve_backend("cudf").backend == "cudf"


def test_cudf_requested_where_it_cannot_run_is_a_spec_error(no_gpu: None) -> None:
    with pytest.raises(be.BackendUnavailable) as raised:
        be.resolve_backend("cudf")
    assert isinstance(raised.value, SpecError)
    assert raised.value.exit_code == EXIT_INVALID_SPEC
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("backend 'cudf' requested but no GPU is visible")
    assert "assay doctor" in message and "gpu-cu12" in message


def test_run_with_backend_cudf_exits_2_with_one_line(no_gpu: None) -> None:
    result = CliRunner().invoke(app, ["run", str(SAMPLE), "--backend", "cudf"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: backend 'cudf' requested but")
    assert "Traceback" not in result.output


def test_run_rejects_an_unknown_backend() -> None:
    result = CliRunner().invoke(app, ["run", str(SAMPLE), "--backend", "gpu"])
    assert result.exit_code == 2
    assert "gpu" in result.stderr


def _spec(**extra: object) -> dict:
    data = yaml.safe_load(SAMPLE.read_text())
    data.pop("gates", None)
    return {**data, **extra}


def test_backend_key_defaults_to_auto_and_rejects_unknown_values() -> None:
    assert parse_spec(_spec(), "p.yaml", SAMPLE.parent).backend == "auto"
    assert parse_spec(_spec(backend="cudf"), "p.yaml", SAMPLE.parent).backend == "cudf"
    with pytest.raises(SpecError, match=r"^p\.yaml: backend: Input should be 'auto'"):
        parse_spec(_spec(backend="gpu"), "p.yaml", SAMPLE.parent)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("rmm_pool_size", 1.5, "cluster.rmm_pool_size"),
    ("rmm_pool_size", "lots", "not a byte size"),
    ("device_memory_limit", 0, "cluster.device_memory_limit"),
    ("protocol", "ib", "cluster.protocol"),
    ("enable_jit_unspill", True, "cluster.enable_jit_unspill: Extra inputs"),
])
def test_bad_gpu_cluster_keys_are_named(key: str, value: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(_spec(cluster={key: value}), "p.yaml", SAMPLE.parent)


def test_cuda_cluster_kwargs_defaults() -> None:
    assert cuda_cluster_kwargs(ClusterSpec()) == {
        "threads_per_worker": 1,
        "memory_limit": "auto",
        "rmm_pool_size": 0.5,
        "enable_cudf_spill": True,
        "cudf_spill_stats": 1,
        "protocol": "tcp",
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
    }


def test_cuda_cluster_kwargs_from_spec_keys() -> None:
    cluster = parse_spec(_spec(cluster={
        "workers": 2, "threads_per_worker": 2, "cuda_visible_devices": "0,2",
        "rmm_pool_size": "24GiB", "device_memory_limit": 0.8, "enable_cudf_spill": False,
        "protocol": "ucx", "memory_limit": "64GiB"}), "p.yaml", SAMPLE.parent).cluster
    assert "n_workers" not in cuda_cluster_kwargs(cluster)  # CPU workers: one per GPU here
    kwargs = cuda_cluster_kwargs(cluster, workers=1)  # --workers: how many GPUs to use
    assert kwargs["n_workers"] == 1
    assert kwargs["threads_per_worker"] == 2
    assert kwargs["CUDA_VISIBLE_DEVICES"] == "0,2"
    assert kwargs["rmm_pool_size"] == 24 * 2**30
    assert kwargs["device_memory_limit"] == 0.8
    assert kwargs["memory_limit"] == 64 * 2**30
    assert kwargs["enable_cudf_spill"] is False and "cudf_spill_stats" not in kwargs
    assert kwargs["protocol"] == "ucx"


def test_rmm_async_replaces_the_pool() -> None:
    kwargs = cuda_cluster_kwargs(ClusterSpec(rmm_async=True))
    assert kwargs["rmm_async"] is True and "rmm_pool_size" not in kwargs


def test_ucx_needs_distributed_ucxx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed_ucxx", None)
    _require_ucx(ClusterSpec())  # tcp needs nothing
    with pytest.raises(be.BackendUnavailable, match=r"cluster\.protocol: 'ucx' needs"):
        _require_ucx(ClusterSpec(protocol="ucx"))


def test_cudf_runs_set_dasks_dataframe_backend() -> None:
    assert _run_config(ClusterSpec(), False, "pandas") == {"dataframe.shuffle.method": "tasks"}
    # cuDF shuffles by tasks (as dask-cudf does), and Dask's readers make cuDF partitions
    assert _run_config(ClusterSpec(), False, "cudf") == {
        "dataframe.shuffle.method": "tasks", "dataframe.backend": "cudf"}


def test_pandas_frames_pass_the_seam_unchanged() -> None:
    part = pd.DataFrame({"a": [1, 2, 1], "b": ["x", "y", "x"]})
    assert fr.to_pandas(part) is part
    assert fr.stable_hash_rows(part, ["a", "b"]).equals(
        pd.util.hash_pandas_object(part[["a", "b"]], index=False).astype("uint64"))


class _OnDevice:
    """Stands in for a cuDF frame or column: it lives in a ``cudf`` module, as the seam's
    dispatchers see (that is what makes them register the cuDF side)."""

    __module__ = "cudf.core.series"

    def __init__(self, host: object) -> None:
        self.host = host

    def to_pandas(self) -> object:
        return self.host


@pytest.fixture
def stand_in_cudf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``cudf`` and ``cupy`` modules whose frame, column, index and array types are
    stand-ins, met by a seam whose device side is registered afresh and forgotten
    afterwards (so a real cuDF later in the session registers its own types)."""
    cudf = types.ModuleType("cudf")
    cudf.DataFrame = cudf.Series = cudf.Index = cudf.from_pandas = _OnDevice
    cupy = types.ModuleType("cupy")
    cupy.ndarray = type("ndarray", (), {"__module__": "cupy"})
    monkeypatch.setitem(sys.modules, "cudf", cudf)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(sys.modules["assay.transforms"], "frame_cudf", None, raising=False)
    for dispatch in (v for v in vars(fr).values() if isinstance(v, Dispatch)):
        monkeypatch.setattr(dispatch, "_lookup", dict(dispatch._lookup))
        monkeypatch.setattr(dispatch, "_lazy", dict(dispatch._lazy))
    device_side = sys.modules.pop(DEVICE_SIDE, None)
    yield
    sys.modules.pop(DEVICE_SIDE, None)
    if device_side is not None:
        sys.modules[DEVICE_SIDE] = device_side


def test_host_fallbacks_compute_on_the_host_move_back_and_log(
        stand_in_cudf: None, caplog: pytest.LogCaptureFixture) -> None:
    fr.host_fallback.cache_clear()
    text = pd.Series(["\uff25ve", None], dtype="str")
    normal = fr.normalize_unicode(_OnDevice(text), "NFKC")
    assert isinstance(normal, _OnDevice)
    assert normal.host.iloc[0] == "Eve" and normal.host.isna().iloc[1]
    part = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    hashes = fr.stable_hash_rows(_OnDevice(part), ["a", "b"])
    assert hashes.host.equals(fr.stable_hash_rows(part, ["a", "b"]))
    stamps = parse_timestamps(_OnDevice(pd.Series(["2024-01-02 03:04:05", "x"], dtype="str")),
                              "%Y-%m-%d %H:%M:%S", "UTC")
    assert str(stamps.host.iloc[0]) == "2024-01-02 03:04:05+00:00"
    assert stamps.host.isna().tolist() == [False, True]
    logged = [r.getMessage() for r in caplog.records if r.name == "assay.backend"]
    assert [line.split(" for ")[1].split(" ")[0] for line in logged] == [
        "normalize's", "row_id", "parse_timestamp"]
    fr.normalize_unicode(_OnDevice(text), "NFC")  # logged once per process
    assert len([r for r in caplog.records if r.name == "assay.backend"]) == 3


def test_the_key_hash_of_a_device_frame_is_the_hosts(
        stand_in_cudf: None, caplog: pytest.LogCaptureFixture) -> None:
    fr.host_fallback.cache_clear()
    part = pd.DataFrame({"a": [1, 2], "b": ["x", None]}).astype({"b": "str"})
    hashes = fr.key_hash(_OnDevice(part), ["a", "b"])
    assert hashes.host.equals(fr.key_hash(part, ["a", "b"]))
    assert [r.getMessage() for r in caplog.records if r.name == "assay.backend"] == [
        "cuDF backend: host fallback for " + fr.HOST_FALLBACKS["key_hash"]]


_CPU_RUN = """
import sys

class Watch:
    \"\"\"Records every attempt to import cuDF or CuPy, even one whose error is caught.\"\"\"
    tried = []

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("cudf", "cupy"):
            self.tried.append(name)

sys.meta_path.insert(0, Watch())
import pandas as pd
import assay.pipelines.publish
from assay.transforms import frame as fr
from assay.transforms.casting import cast_column
from assay.transforms.timestamps import parse_timestamps

part = pd.DataFrame({"n": ["1", "2"], "t": ["2024-01-01T00:00:00Z", "2024-01-01 00:00"]})
fr.records_as_json(part), fr.to_host(part["t"]), fr.stable_hash_rows(part, ["n"])
fr.host_array(fr.array_values(part.index.to_series())), fr.bytes_array(b"a,b", part)
parse_timestamps(part["t"], "ISO8601", "UTC"), cast_column(part["n"], "int64")
assert fr.backend_name(part) == "pandas" and not fr.on_device(part)
loaded = {"cudf", "cupy", "assay.transforms.frame_cudf"} & set(sys.modules)
assert not Watch.tried and not loaded, (Watch.tried, loaded)
"""


def test_the_seam_never_imports_cudf_for_pandas_partitions() -> None:
    """The device side is registered only once a cuDF or CuPy object is met: a fresh
    process that loads the engine and sends pandas objects through the seam tries to
    import neither."""
    done = subprocess.run([sys.executable, "-c", _CPU_RUN], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_more_gpu_workers_than_gpus_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr("assay.pipelines.cluster.visible_gpus", lambda: [])
    with pytest.raises(be.BackendUnavailable, match=r"--workers 2: the cuDF backend runs one "
                       r"worker per GPU, and 0 GPU\(s\) are visible"):
        _require_gpus(2)


def _nvml_raising(monkeypatch: pytest.MonkeyPatch,
                  make_error: Callable[[type[Exception]], BaseException]) -> None:
    """An installed ``pynvml`` whose ``nvmlInit`` raises ``make_error(pynvml.NVMLError)``."""
    class NVMLError(Exception):
        pass

    def init() -> None:
        raise make_error(NVMLError)

    module = types.SimpleNamespace(NVMLError=NVMLError, nvmlInit=init)
    monkeypatch.setitem(sys.modules, "pynvml", module)


def test_nvml_without_a_driver_sees_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _nvml_raising(monkeypatch, lambda nvml: type("NVMLError_DriverNotLoaded", (nvml,), {})())
    assert be._pynvml() is None


def test_a_bug_under_nvml_is_not_taken_for_a_missing_driver(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    _nvml_raising(monkeypatch, lambda nvml: TypeError("nvmlInit() takes no arguments"))
    with pytest.raises(TypeError):
        be._pynvml()
