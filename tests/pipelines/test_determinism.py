"""The same inputs and spec give byte-identical shards and manifest, and the same quarantined
rows, with 1, 2 or 4 workers, in the run's own process without a cluster (a small run:
``assay.pipelines.in_process``) and with different source block sizes: on both bundled
samples and on a dedup-heavy input with duplicates inside and across files.

What names the run is left out of the comparison: ``created_at``, ``run_id`` and the run id
inside file names (``tests.fault_kit.comparable``). Quarantine pieces are one per
partition, so their files are compared byte for byte between runs with the same block size
and row by row (ordered by file and line) across block sizes.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import assay
from assay.pipelines.cluster import dask_client
from assay.pipelines.compose import RunResult
from assay.pipelines.spec import ClusterSpec, PipelineSpec, load_spec
from data_samples.generate import EventDirt, dirty_events, write_csv_files
from tests.fault_kit import comparable
from tests.published import quarantine_of

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
# (workers, block size): None keeps the spec's 64MiB (one block per file here); 0 workers:
# no cluster, Dask's threaded scheduler in this process
CONFIGS = [(1, None), (4, None), (2, 48 * 1024), (0, None)]


def _run(spec: PipelineSpec, output: Path, workers: int, block_size: int | None,
         inputs: list[str] | None) -> RunResult:
    if block_size is not None:
        source = spec.source.model_copy(update={"block_size": block_size})
        spec = spec.model_copy(update={"source": source})
    if workers == 0:
        cluster = spec.cluster.model_copy(update={"in_process_below": 2**40})
        return assay.run(spec.model_copy(update={"cluster": cluster}), inputs=inputs,
                         output=str(output))
    with dask_client(ClusterSpec(workers=workers, threads_per_worker=1)) as client:
        return assay.run(spec, inputs=inputs, output=str(output), client=client)


def _quarantine_pieces(version: RunResult) -> list[bytes]:
    folder = Path(version.path) / "_quarantine" / f"run_id={version.manifest['run_id']}"
    return [piece.read_bytes() for piece in sorted(folder.glob("*.parquet"))]


def _quarantine_rows(version: RunResult) -> list[dict]:
    return quarantine_of(version.path, version.manifest["run_id"])


def _shard_bytes(version: RunResult) -> list[bytes]:
    return [(Path(version.path) / s["path"]).read_bytes() for s in version.manifest["shards"]]


@pytest.fixture(scope="module")
def dedup_heavy(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Event uploads where 40% of rows repeat an earlier one, plus a whole file uploaded
    twice under another name (every row of it a duplicate across files)."""
    folder = tmp_path_factory.mktemp("dedup-heavy")
    paths = write_csv_files(dirty_events(12_000, seed=7, dirt=EventDirt(duplicate_rows=0.4)),
                            folder, n_files=3)
    shutil.copyfile(paths[1], folder / "events-again.csv")
    return [str(folder / "*.csv")]


@pytest.fixture(scope="module")
def multiline(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Event uploads where one text in ten is a quoted value spanning lines (RFC 4180), so
    48 KiB blocks must find where records start, not just lines."""
    folder = tmp_path_factory.mktemp("multiline")
    events = dirty_events(12_000, seed=11)
    spans = np.arange(len(events)) % 10 == 3
    events.loc[spans, "text"] = events.loc[spans, "text"].fillna("") + '\n"quoted", on\nlines'
    half = len(events) // 2
    events.iloc[:half].to_csv(folder / "events-0.csv", index=False)
    events.iloc[half:].to_csv(folder / "events-1.csv", index=False)
    return [str(folder / "*.csv")]


@pytest.mark.parametrize("case", ["events", "records", "dedup-heavy", "multiline"])
def test_identical_whatever_the_workers_and_block_size(case: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest,
                                                       caplog: pytest.LogCaptureFixture):
    sample = "records" if case == "records" else "events"
    spec = load_spec(SAMPLES / sample / "pipeline.yaml")
    inputs = request.getfixturevalue("multiline") if case == "multiline" else None
    if case == "dedup-heavy":
        inputs = request.getfixturevalue("dedup_heavy")
        # a gate before the dedup sees the read's partitions: its float statistics too
        # must not depend on how the input was cut
        early = spec.gates[0].model_copy(update={"name": "early", "after": "parse_timestamp",
                                                 "policy": "warn"})
        spec = spec.model_copy(update={"gates": [early, *spec.gates]})
    caplog.set_level(logging.INFO, logger="assay.pipelines.in_process")
    runs = [_run(spec, tmp_path / f"w{workers}-b{block_size}", workers, block_size, inputs)
            for workers, block_size in CONFIGS]
    first = runs[0]
    if case == "dedup-heavy":
        assert first.manifest["accounting"]["dropped_by_step"]["dedup"] > 5_000
        assert len(first.manifest["inputs"]) == 4
    if case == "multiline":  # every record read as one row, its newlines kept
        assert first.manifest["accounting"]["rows_read"] == 12_000
        assert not any(r.startswith("malformed") for row in _quarantine_rows(first)
                       for r in row["_reasons"])
    for other in runs[1:]:
        assert comparable(other.manifest) == comparable(first.manifest)
        assert _shard_bytes(other) == _shard_bytes(first)
        assert _quarantine_rows(other) == _quarantine_rows(first)
    assert _quarantine_pieces(runs[1]) == _quarantine_pieces(first)  # same block size
    assert _quarantine_pieces(runs[3]) == _quarantine_pieces(first)
    assert "computed in this process" in caplog.text  # the last run started no cluster
