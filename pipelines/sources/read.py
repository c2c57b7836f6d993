"""From a run plan to one routed Dask frame: a partition per block of every upload."""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd

from assay.pipelines import killpoints
from assay.pipelines.plan import RunPlan
from assay.pipelines.routing import empty_routed
from assay.pipelines.schema import empty_typed
from assay.pipelines.sources.csv_reader import read_csv_block
from assay.pipelines.sources.jsonl_reader import read_jsonl_block
from assay.pipelines.sources.lines import unread_record
from assay.pipelines.sources.parquet_reader import read_parquet_block
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.spec import PipelineSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame


def data_meta(spec: PipelineSpec, plan: RunPlan) -> pd.DataFrame:
    """The empty typed frame of the schema's columns (plus kept extras, as strings)."""
    frame = empty_typed(spec.schema_)
    if spec.schema_.extra_columns == "keep":
        for upload in plan.inputs:
            for name in upload.header or []:
                if name not in frame.columns:
                    frame[name] = pd.Series(dtype="str")
    return frame


def _read_block(item: tuple[InputFile, Block], spec: PipelineSpec, like: Frame) -> Frame:
    """One block as a routed partition shaped and typed as ``like`` (the graph's meta;
    not named ``meta``, which ``from_map`` keeps for itself)."""
    meta, (upload, block) = like, item
    killpoints.reached("read")
    if block.reason is not None:
        return unread_record(upload, block, spec.schema_, spec.source, meta)
    if upload.found.format == "csv":
        return read_csv_block(upload, block, spec.schema_, spec.source, meta)
    if upload.found.format == "jsonl":
        return read_jsonl_block(upload, block, spec.schema_, meta, spec.source)
    return read_parquet_block(upload, block, spec.schema_, meta, spec.source.storage_options)


def read_uploads(plan: RunPlan, backend: str = "pandas") -> dd.DataFrame:
    """The routed frame of every block of every upload, as partitions of ``backend``."""
    meta = _routed_meta(plan, backend)
    return dd.from_map(_read_block, _blocks(plan), spec=plan.spec, like=meta, meta=meta,
                       enforce_metadata=False, label="read-uploads")


def _routed_meta(plan: RunPlan, backend: str) -> Frame:
    return fr.frame_to_backend(empty_routed(data_meta(plan.spec, plan)), backend)


def _blocks(plan: RunPlan) -> list[tuple[InputFile, Block]]:
    return [(upload, block) for upload in plan.inputs for block in upload.blocks]


def read_block_directly(plan: RunPlan, number: int, backend: str = "pandas") -> Frame:
    """Partition ``number`` of ``read_uploads`` read in this process without Dask (no graph
    to build or optimise): what a profile of the read itself should time."""
    return _read_block(_blocks(plan)[number], plan.spec, _routed_meta(plan, backend))
