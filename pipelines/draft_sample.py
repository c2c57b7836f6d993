"""The rows ``assay suite draft`` profiles, read as ``assay run`` reads them.

With a spec, the upload goes through the spec's reader, schema and steps (no gates): the
draft describes the rows a gate after the last step sees, with the dirt the steps remove
already gone (``normalize`` has upper-cased the countries a value set lists) and the types
the schema and steps give. Without one, a CSV upload is read by the engine with every
column of its header as a string (so a malformed line, an unbalanced quote among them, is
left out as a run quarantines it) and typed by value; JSON Lines and Parquet uploads are
read by ``assay.validation.draft_read``.

The graph runs on Dask's synchronous scheduler in this process: partition steps a
partition at a time until the sample is full; a global step (dedup) needs every row, so a
spec with one reads the whole upload.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dask
import pandas as pd

from assay.pipelines.graph import build_graph
from assay.pipelines.plan import RunPlan, plan_run
from assay.pipelines.routing import data_columns, live_mask
from assay.pipelines.sources.read import read_uploads
from assay.pipelines.spec import PipelineSpec, parse_spec
from assay.validation.draft import SAMPLE_ROWS, Draft, draft_suite
from assay.validation.draft_read import (
    COMPRESSIONS,
    DraftError,
    Sample,
    declared,
    detect,
    from_strings,
    read_sample,
)

_PLACEHOLDER = "assay draft: the header is read first"


def draft(upload: str, spec: PipelineSpec | None = None, name: str | None = None,
          sample_rows: int = SAMPLE_ROWS, spec_path: str | None = None) -> Draft:
    """The drafted suite of ``upload`` (after ``spec``'s steps, where given)."""
    return draft_suite(sample_for_draft(upload, spec, sample_rows), upload, name, spec_path)


def sample_for_draft(upload: str, spec: PipelineSpec | None, rows: int) -> Sample:
    """The first ``rows`` rows to profile, typed (see the module docstring)."""
    if spec is not None:
        plan = plan_run(spec, [upload])
        return declared(*_first_rows(spec, plan, rows, upload))
    if detect(upload)[0] != "csv":
        return read_sample(upload, rows)
    probe = _string_spec(upload, [_PLACEHOLDER])
    plan = plan_run(probe, [upload])
    strings = _string_spec(upload, plan.inputs[0].header or [])
    return from_strings(*_first_rows(strings, replace(plan, spec=strings), rows, upload))


def _string_spec(upload: str, columns: list[str]) -> PipelineSpec:
    """A spec that reads a CSV upload's columns as strings, and nothing else."""
    tab = any(upload.lower().endswith(".tsv" + ext) for ext in ("", *COMPRESSIONS))
    return parse_spec({
        "name": "draft",
        "source": {"paths": [upload], "format": "csv",
                   "csv": {"delimiter": "\t" if tab else ",", "null_values": [""]}},
        "schema": {"columns": [{"name": c} for c in columns],
                   "extra_columns": "drop", "missing_columns": "null"},
        "sink": {"path": "draft-sink-unused"},
    }, upload, Path.cwd())


def _first_rows(spec: PipelineSpec, plan: RunPlan, rows: int, upload: str
                ) -> tuple[pd.DataFrame, bool]:
    """The first ``rows`` live rows after the steps, and whether they are all of them."""
    steps_only = spec.model_copy(update={"gates": []})
    frame = build_graph(read_uploads(replace(plan, spec=steps_only)), steps_only,
                        spec.resolve, input_bytes=sum(u.found.size for u in plan.inputs)).frame
    live = frame.map_partitions(_live, meta=_live(frame._meta), enforce_metadata=False)
    taken: list[pd.DataFrame] = []
    count, whole = 0, True
    with dask.config.set({"scheduler": "synchronous", "dataframe.shuffle.method": "tasks"}):
        if any(step.is_global for step in spec.steps):
            parts = [live.compute()]
        else:
            parts = (live.get_partition(i).compute() for i in range(live.npartitions))
        for part in parts:
            if count >= rows and len(part):
                whole = False
                break
            taken.append(part)
            count += len(part)
    sample = pd.concat(taken) if taken else live._meta
    if len(sample) > rows:
        sample, whole = sample.head(rows), False
    if len(sample) == 0:
        raise DraftError(f"{upload}: no data rows" + (" left after the steps" if spec.steps
                                                       else ""))
    return sample.reset_index(drop=True), whole


def _live(part: pd.DataFrame) -> pd.DataFrame:
    """The rows still in the run (not quarantined or dropped), data columns only."""
    return part[live_mask(part)][data_columns(part)]
