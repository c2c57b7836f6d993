"""One composer owns a run: its phases run in order, under the dataset's lock, with the spec
loaded and the backend resolved once, whichever caller (``assay.run``, the flow) drives it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from deltalake import DeltaTable

import assay
from assay.pipelines import compose
from assay.pipelines.confine import Roots
from assay.pipelines.errors import SpecError, UploadRejected
from assay.pipelines.lock import LockTimeout, dataset_lock

GOOD = b"id,name,amount\n1,a,1.5\n2,b,2.5\n"


@pytest.fixture
def spec_file(tmp_path: Path, uploads) -> Path:
    uploads("a.csv", GOOD)
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: compose\nsource: {paths: [uploads]}\n"
                    "schema:\n  columns:\n    - {name: id, type: int64}\n"
                    "    - {name: name}\n    - {name: amount, type: float64}\n"
                    "sink: {path: out}\n")
    return path


def test_assay_run_takes_a_spec_path_and_returns_the_version_and_summary(
        spec_file: Path, dask_client) -> None:
    result = assay.run(spec_file, client=dask_client)

    assert result.version == 0
    assert Path(result.path) == spec_file.parent / "out"
    assert DeltaTable(result.path).to_pyarrow_table().num_rows == 2
    assert result.manifest["accounting"]["rows_written"] == 2
    assert (result.summary.pipeline, result.summary.rows_read) == ("compose", 2)
    assert set(result.summary.phases) == {"plan", "cluster start", "cluster stop", "publish"}


def test_a_small_run_without_a_client_starts_no_cluster_and_says_so(spec_file: Path) -> None:
    from dask.system import CPU_COUNT

    from assay.pipelines.in_process import summary_line

    result = assay.run(spec_file)

    assert DeltaTable(result.path).to_pyarrow_table().num_rows == 2
    assert result.summary.cluster == summary_line(CPU_COUNT)
    assert set(result.summary.phases) == {"plan", "publish"}  # no cluster to start or stop


def test_a_run_told_never_to_skip_the_cluster_starts_its_own(spec_file: Path) -> None:
    spec_file.write_text(spec_file.read_text() + "cluster: {in_process_below: 0, workers: 1}\n")

    result = assay.run(spec_file)

    assert DeltaTable(result.path).to_pyarrow_table().num_rows == 2
    assert result.summary.cluster == ""
    assert set(result.summary.phases) == {"plan", "cluster start", "cluster stop", "publish"}


def test_the_phases_run_in_order_under_the_dataset_lock(spec_file: Path, dask_client) -> None:
    request = compose.load(spec_file)
    seen: list[str] = []

    def locked() -> bool:
        try:
            with dataset_lock(request.sink, request.data_dir, timeout=0):
                return False
        except LockTimeout:
            return True

    def recording(name: str, phase):
        def run(*args):
            seen.append(f"{name}{' (locked)' if locked() else ''}")
            return phase(*args)
        return run

    phases = compose.Phases(**{name: recording(name, getattr(compose, name))
                               for name in ("plan", "execute", "publish", "report")})
    compose.run_all(request, phases, client=dask_client)

    assert seen == ["plan (locked)", "execute (locked)", "publish (locked)", "report (locked)"]
    assert not locked()  # released at the end


def test_a_plain_python_run_waits_for_the_dataset_lock(spec_file: Path, dask_client) -> None:
    """Two plain-Python runs on one sink publish one after the other."""
    request = compose.load(spec_file)
    results: list[int] = []
    with dataset_lock(request.sink, request.data_dir):
        runner = threading.Thread(
            target=lambda: results.append(assay.run(spec_file, client=dask_client).version))
        runner.start()
        runner.join(timeout=2)
        assert runner.is_alive() and not results  # held off by the lock
    runner.join(timeout=120)
    assert results == [0]


def test_load_reads_the_spec_once_and_resolves_the_backend_once(
        spec_file: Path, dask_client, count_calls) -> None:
    calls = count_calls(compose, "load_spec", "resolve_backend")
    assay.run(spec_file, client=dask_client, backend="pandas")

    assert calls == {"load_spec": 1, "resolve_backend": 1}


def test_a_served_request_is_confined_to_its_roots(spec_file: Path, tmp_path: Path,
                                                   dask_client) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_bytes(GOOD)
    request = compose.load(spec_file, inputs=[str(secret)],
                           roots=Roots((str(tmp_path / "uploads"),), str(tmp_path / "out")))

    with pytest.raises(UploadRejected, match="outside the pipeline's inputs"):
        compose.run_all(request, client=dask_client)
    assert not (tmp_path / "out").exists()


def test_uploads_append_and_refuse_a_spec_that_overwrites(spec_file: Path) -> None:
    """Ad-hoc runs overwrite unless the spec says append; uploads and sweeps always append,
    and a spec asking them to overwrite is refused in one line."""
    request = compose.load(spec_file)
    assert (request.mode, request.for_uploads().mode) == ("overwrite", "append")
    spec = request.spec.model_copy(update={"sink": request.spec.sink.model_copy(
        update={"mode": "overwrite"})})
    with pytest.raises(SpecError, match=r"sink\.mode: overwrite would replace the dataset "
                                        r"with each upload") as refused:
        compose.load(spec).for_uploads()
    assert "\n" not in str(refused.value)
