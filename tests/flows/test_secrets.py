"""Secrets in specs come from the environment (``${ENV:NAME}``) and are never written: a run
whose source and sink need a password (a filesystem that refuses any other) publishes, and
the secret is in none of the files it wrote, its Prefect logs and artifacts, or the console.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem

from assay.flows.ingest import ingest
from assay.pipelines.errors import SpecError
from assay.pipelines.spec import load_spec

PASSWORD_VARIABLE = "ASSAY_TEST_STORE_PASSWORD"
SPEC = """\
name: secretive
source:
  paths: ["guarded://{root}/uploads"]
  storage_options: {{password: "${{ENV:{variable}}}"}}
schema:
  columns: [{{name: id, type: int64}}, {{name: city}}]
sink:
  path: "guarded://{root}/out"
  storage_options: {{password: "${{ENV:{variable}}}"}}
cluster: {{workers: 1, processes: false}}
"""


class GuardedFileSystem(LocalFileSystem):
    """Local files behind a password, as an object store's credentials guard a bucket."""

    protocol = ("guarded",)
    expected: str | None = None

    def __init__(self, password: str | None = None, **kwargs: Any) -> None:
        if password is None or password != GuardedFileSystem.expected:
            raise PermissionError("guarded: wrong or no password")
        super().__init__(**kwargs)

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(path.removeprefix("guarded://"))


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv(PASSWORD_VARIABLE, value)
    monkeypatch.setattr(GuardedFileSystem, "expected", value)
    fsspec.register_implementation("guarded", GuardedFileSystem, clobber=True)
    return value


def _spec(tmp_path: Path) -> Path:
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "a.csv").write_text("id,city\n1,Oslo\n2,Lima\nx,Pune\n")
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(SPEC.format(root=tmp_path, variable=PASSWORD_VARIABLE))
    return spec


async def _prefect_records(flow_run_id: Any) -> str:
    """Everything Prefect kept of the run: its logs and every artifact."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = await client.read_artifacts()
        run = await client.read_flow_run(flow_run_id)
    return "\n".join([*(log.message for log in logs),
                      *(str(artifact.data) + str(artifact.description) for artifact in artifacts),
                      run.model_dump_json()])


def test_secret_from_the_environment_is_used_and_never_written(
    tmp_path: Path, secret: str, prefect_harness: None, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    state = ingest(spec_path=str(_spec(tmp_path)), return_state=True)
    summary = state.result()
    assert summary.version == 0 and summary.rows_written == 2

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent.name != "uploads"]
    assert any(p.name == "manifest.json" for p in written)
    assert any(p.suffix == ".parquet" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    records = asyncio.run(_prefect_records(state.state_details.flow_run_id))
    assert "secretive" in records
    assert secret not in records
    console = capfd.readouterr()
    assert secret not in console.out + console.err + caplog.text
    assert secret not in repr(load_spec(tmp_path / "pipeline.yaml"))


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"password": "hunter2"}, "password: a credential is not written in a spec"),
        ({"client_kwargs": {"aws_secret_access_key": "x"}},
         "client_kwargs.aws_secret_access_key: a credential is not written in a spec"),
        ({"secret": "${ENV:ASSAY_TEST_SURELY_UNSET}"},
         "secret: environment variable ASSAY_TEST_SURELY_UNSET is not set"),
    ],
)
def test_literal_or_missing_credentials_fail_the_spec(
    tmp_path: Path, options: dict[str, Any], problem: str,
) -> None:
    import yaml

    spec = tmp_path / "pipeline.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "s", "source": {"paths": ["u"], "storage_options": options},
        "schema": {"columns": [{"name": "a"}]}, "sink": {"path": "o"}}))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(spec))}: line \d+: source\.storage_options: "
                    rf"{re.escape(problem)}", message), message
