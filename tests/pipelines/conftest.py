"""Shared engine fixtures: one Dask cluster per session, and small spec/upload builders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

import assay
from assay.pipelines.compose import RunResult
from assay.pipelines.spec import PipelineSpec, parse_spec
from tests.published import manifest_of, quarantine_of

BASIC_SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "name", "type": "string"},
        {"name": "amount", "type": "float64"},
    ]
}


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture
def backend_log() -> Iterator[list[str]]:
    """What the engine logs about its cluster (a local cluster sets the root logger's
    handlers, pytest's among them, to errors only)."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("assay.backend")
    level = logger.level
    logger.setLevel(logging.INFO)  # not the attribute: the logger caches its levels
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., PipelineSpec]:
    """A spec rooted at tmp_path; keyword arguments override top-level sections."""

    def build(**overrides: Any) -> PipelineSpec:
        data = {
            "name": "test",
            "source": {"paths": ["uploads"]},
            "schema": BASIC_SCHEMA,
            "sink": {"path": "out"},
            **overrides,
        }
        return parse_spec(data, str(tmp_path / "pipeline.yaml"), tmp_path)

    return build


@pytest.fixture
def uploads(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, content: bytes) -> Path:
        path = tmp_path / "uploads" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    return write


@pytest.fixture
def run(dask_client: Client) -> Callable[[PipelineSpec], RunResult]:
    def execute(spec: PipelineSpec, **kwargs: Any) -> RunResult:
        return assay.run(spec, client=dask_client, **kwargs)

    return execute


def read_quarantine(version: RunResult) -> list[dict]:
    return quarantine_of(version.path, version.manifest["run_id"])


def load_manifest(version: RunResult) -> dict:
    return manifest_of(version.path, version.version)
