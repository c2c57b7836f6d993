"""Parquet uploads to routed partitions, one row group per partition. Row numbers are
record numbers (1-based) within the file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from assay.pipelines.errors import StorageError, UploadRejected
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.sources.storage import open_upload
from assay.pipelines.spec import SchemaSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(),
             pa.bool_(): pd.BooleanDtype()}


def parquet_blocks(url: str, storage_options: dict[str, Any]) -> tuple[list[Block], list[str]]:
    """One block per row group (start = row group index, first_line = first record number),
    and the file's column names; a file whose footer cannot be read is rejected."""
    try:
        with open_upload(url, storage_options) as handle:
            metadata = pq.ParquetFile(handle).metadata
            names = list(metadata.schema.names)
    except StorageError:
        raise
    except Exception as exc:
        raise UploadRejected(f"{url}: not a readable Parquet file: {exc}") from None
    blocks, first = [], 1
    for group in range(metadata.num_row_groups):
        blocks.append(Block(group, group + 1, first))
        first += metadata.row_group(group).num_rows
    return blocks or [Block(0, 0, 1)], names


def read_parquet_block(
    upload: InputFile,
    block: Block,
    schema: SchemaSpec,
    meta: Frame,
    storage_options: dict[str, Any],
) -> Frame:
    wanted = [n for n in (upload.header or [])
              if n in schema.names or schema.extra_columns == "keep"]
    try:
        with open_upload(upload.url, storage_options) as handle:
            parquet = pq.ParquetFile(handle)
            table = parquet.read_row_group(block.start, columns=wanted) \
                if block.end != block.start else parquet.schema_arrow.empty_table()
    except StorageError:
        raise
    except Exception as exc:
        raise UploadRejected(f"{upload.url}: row group {block.start}: cannot read: {exc}"
                             ) from None
    raw = fr.from_arrow(meta, table.select(wanted), _NULLABLE.get)
    lines = block.first_line + np.arange(len(raw), dtype=np.int64)
    return routed_partition(raw, lines, BadRecords.empty(), upload.source_id, schema, meta)
