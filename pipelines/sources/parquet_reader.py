"""Parquet uploads to routed partitions, one row group per partition. Row numbers are
record numbers (1-based) within the file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.sources.storage import open_upload
from assay.pipelines.spec import SchemaSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

# What pyarrow raises on bytes that are not readable Parquet: ArrowInvalid (no magic bytes, a
# footer or index out of bounds), OSError (ArrowIOError: thrift or flatbuffers that do not
# deserialize, corrupt pages), ArrowNotImplementedError (an encoding or type it cannot read).
# A storage failure under it comes back as our StorageError (pyarrow re-raises the Python
# file's own exception); ArrowMemoryError and anything else propagate.
_UNREADABLE = (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError)
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(),
             pa.bool_(): pd.BooleanDtype()}


def parquet_blocks(url: str, storage_options: dict[str, Any]) -> tuple[list[Block], list[str]]:
    """One block per row group (start = row group index, first_line = first record number),
    and the file's column names; a file whose footer cannot be read is rejected."""
    with open_upload(url, storage_options) as handle:
        try:
            metadata = pq.ParquetFile(handle).metadata
        except _UNREADABLE as exc:
            raise UploadRejected(f"{url}: not a readable Parquet file: {exc}") from exc
        names = list(metadata.schema.names)
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
    with open_upload(upload.url, storage_options) as handle:
        try:
            parquet = pq.ParquetFile(handle)
            table = parquet.read_row_group(block.start, columns=wanted) \
                if block.end != block.start else parquet.schema_arrow.empty_table()
        except _UNREADABLE as exc:
            raise UploadRejected(f"{upload.url}: row group {block.start}: cannot read: {exc}"
                                 ) from exc
    raw = fr.from_arrow(meta, table.select(wanted), _NULLABLE.get)
    lines = block.first_line + np.arange(len(raw), dtype=np.int64)
    return routed_partition(raw, lines, BadRecords.empty(), upload.source_id, schema, meta)
