"""From a run plan to one routed Dask frame: a partition per block of every upload."""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd

from assay.pipelines import killpoints
from assay.pipelines.plan import RunPlan
from assay.pipelines.routing import empty_routed
from assay.pipelines.sources.csv_reader import read_csv_block
from assay.pipelines.sources.jsonl_reader import read_jsonl_block
from assay.pipelines.sources.parquet_reader import read_parquet_block
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.spec import PipelineSpec
from assay.transforms import frame as fr
from assay.transforms.casting import cast_column
from assay.transforms.frame import Frame


def schema_meta(spec: PipelineSpec) -> pd.DataFrame:
    """The empty typed frame of the schema's columns."""
    return pd.DataFrame({c.name: cast_column(pd.Series(dtype="str"), c.type).values
                         for c in spec.schema_.columns})


def data_meta(spec: PipelineSpec, plan: RunPlan) -> pd.DataFrame:
    """The empty typed frame of the schema's columns (plus kept extras, as strings)."""
    columns = dict(schema_meta(spec).items())
    if spec.schema_.extra_columns == "keep":
        for upload in plan.inputs:
            for name in upload.header or []:
                columns.setdefault(name, pd.Series(dtype="str"))
    return pd.DataFrame(columns)


def _read_block(item: tuple[InputFile, Block], spec: PipelineSpec, like: Frame) -> Frame:
    """One block as a routed partition shaped and typed as ``like`` (the graph's meta;
    not named ``meta``, which ``from_map`` keeps for itself)."""
    meta, (upload, block) = like, item
    killpoints.reached("read")
    if upload.found.format == "csv":
        return read_csv_block(upload, block, spec.schema_, spec.source, meta)
    if upload.found.format == "jsonl":
        return read_jsonl_block(upload, block, spec.schema_, meta, spec.source)
    return read_parquet_block(upload, block, spec.schema_, meta, spec.source.storage_options)


def read_uploads(plan: RunPlan, backend: str = "pandas") -> dd.DataFrame:
    """The routed frame of every block of every upload, as partitions of ``backend``."""
    meta = fr.frame_to_backend(empty_routed(data_meta(plan.spec, plan)), backend)
    items = [(upload, block) for upload in plan.inputs for block in upload.blocks]
    return dd.from_map(_read_block, items, spec=plan.spec, like=meta, meta=meta,
                       enforce_metadata=False, label="read-uploads")
