"""Ingesting a sample's uploads one by one (appending, as uploads and sweeps run) publishes
exactly the rows of one ad-hoc run over all of them: the dataset-wide dedup drops across
uploads what the ad-hoc run's dedup drops across files.

The uploads are the sample's, each cut in three (six uploads per sample), in the order the
ad-hoc run reads them. The records sample's suite also asks for ``row_count >= 1000`` in
the dataset, which the first pieces alone rightly fail (a dataset of a few hundred rows
does not meet it); here the spec goes without it. The samples' own uploads, whole, go
through the intake API with the suite as it is in
``tests/orchestration/test_served.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import yaml

from assay.pipelines import compose
from assay.pipelines.spec import PipelineSpec, parse_spec
from tests.published import rows_of

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
PIECES = 3


def sample_spec(name: str) -> PipelineSpec:
    """The sample's spec, its suites inline, without table-level row counts."""
    folder = SAMPLES / name
    data = yaml.safe_load((folder / "pipeline.yaml").read_text())
    for gate in data.get("gates", []):
        suite = json.loads((folder / gate.pop("suite")).read_text())
        gate["expectations"] = [e for e in suite["expectations"]
                                if e["type"] != "expect_table_row_count_to_be_between"]
    return parse_spec(data, str(folder / "pipeline.yaml"), folder)


def cut(upload: Path, folder: Path) -> Iterator[Path]:
    """The upload, decompressed, in ``PIECES`` pieces at line boundaries (a CSV piece
    repeats the header)."""
    with fsspec.open(str(upload), "rb", compression="infer") as handle:
        lines = handle.read().splitlines(keepends=True)
    header = [lines.pop(0)] if ".csv" in upload.name else []
    size = -(-len(lines) // PIECES)
    stem, suffix = upload.name.split(".")[0], ".csv" if header else ".jsonl"
    for number in range(PIECES):
        piece = folder / f"{stem}-{number}{suffix}"
        piece.write_bytes(b"".join(header + lines[number * size:(number + 1) * size]))
        yield piece


def rows(sink: str) -> pd.DataFrame:
    frame = rows_of(sink).to_pandas()
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.mark.parametrize("name", ["events", "records"])
def test_uploads_one_by_one_publish_the_ad_hoc_runs_rows(name: str, tmp_path: Path,
                                                          dask_client) -> None:
    spec = sample_spec(name)
    folder = tmp_path / "uploads"
    folder.mkdir()
    for upload in sorted((SAMPLES / name / "uploads").iterdir()):
        list(cut(upload, folder))
    ad_hoc = compose.run_all(compose.load(spec, inputs=[str(folder)],
                                          output=str(tmp_path / "ad-hoc")), client=dask_client)
    order = [i["path"] for i in ad_hoc.manifest["inputs"]]
    assert len(order) == 6
    for upload in order:
        request = compose.load(spec, inputs=[upload], output=str(tmp_path / "one-by-one"))
        last = compose.run_all(request.for_uploads(), client=dask_client)
    assert last.version == 5
    dropped = ad_hoc.manifest["accounting"]["dropped_by_step"]["dedup"]
    assert dropped > 0
    pd.testing.assert_frame_equal(rows(str(tmp_path / "one-by-one")),
                                  rows(str(tmp_path / "ad-hoc")))
