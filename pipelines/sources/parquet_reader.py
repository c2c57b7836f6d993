"""Parquet uploads to routed partitions: runs of whole row groups up to the block size per
partition, or a slice of one group whose uncompressed size is over it (a row group of
gigabytes is common, and decoding it whole would hold all of it). Row numbers are record
numbers (1-based) within the file."""

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


# decoded at a time when a block is a slice of a row group: at most this many rows, and
# about this many bytes (a row group of 2 KB documents decoded 64k rows, all 126 MiB of it,
# to keep half: a worker's peak; benchmarks/RESULTS.md, issue 16)
_BATCH_ROWS = 64 * 1024
_BATCH_BYTES = 8 * 1024 * 1024
# a column chunk is read from storage this much at a time as its pages are decoded, not
# whole and ahead (pyarrow's default pre-buffering: a 76 MB chunk held to decode 8 MiB)
_READ_BUFFER = 1024 * 1024


def parquet_blocks(url: str, storage_options: dict[str, Any], block_size: int
                   ) -> tuple[list[Block], list[str], int]:
    """Blocks of rows [start, end) of the file (0-based): runs of whole row groups of at
    most ``block_size`` uncompressed bytes together (dataset writers cut files into groups
    of a few MiB, one partition each would be tiny), and equal slices of a group over
    ``block_size``; the file's column names; and its row groups' uncompressed bytes. A file
    whose footer cannot be read is rejected."""
    with open_upload(url, storage_options) as handle:
        try:
            metadata = pq.ParquetFile(handle).metadata
        except _UNREADABLE as exc:
            raise UploadRejected(f"{url}: not a readable Parquet file: {exc}") from exc
        names = list(metadata.schema.names)
    blocks: list[Block] = []
    run_start, run_bytes, first = 0, 0, 0  # the run of whole groups not yet a block
    decoded = 0

    def close_run(end: int) -> None:
        if end > run_start:
            blocks.append(Block(run_start, end, run_start + 1))

    for group in range(metadata.num_row_groups):
        rows, size = (metadata.row_group(group).num_rows,
                      metadata.row_group(group).total_byte_size)
        decoded += size
        if size > block_size:  # sliced: the run before it closes
            close_run(first)
            step = max(1, -(-rows // -(-size // block_size)))
            blocks += [Block(first + at, first + min(at + step, rows), first + at + 1)
                       for at in range(0, rows, step)]
            run_start, run_bytes = first + rows, 0
        elif run_bytes + size > block_size:
            close_run(first)
            run_start, run_bytes = first, size
        else:
            run_bytes += size
        first += rows
    close_run(first)
    return blocks or [Block(0, 0, 1)], names, decoded


def _batch_rows(group: pq.RowGroupMetaData) -> int:
    """Rows of ``group`` that decode to about ``_BATCH_BYTES`` (at most ``_BATCH_ROWS``)."""
    per_row = max(group.total_byte_size, 1) / max(group.num_rows, 1)
    return max(1, min(_BATCH_ROWS, int(_BATCH_BYTES / per_row)))


def _rows(parquet: pq.ParquetFile, start: int, end: int, columns: list[str]) -> pa.Table:
    """Rows [start, end) of the file: whole row groups read as they are, or a slice of one
    group, decoded a batch at a time from the group's start, keeping its rows."""
    metadata = parquet.metadata
    group, first = 0, 0
    while first + metadata.row_group(group).num_rows <= start:
        first += metadata.row_group(group).num_rows
        group += 1
    if start == first:  # whole groups from here while they end inside the block
        groups, at = [], first
        for whole in range(group, metadata.num_row_groups):
            if at + metadata.row_group(whole).num_rows > end:
                break
            at += metadata.row_group(whole).num_rows
            groups.append(whole)
        if groups and at == end:
            return parquet.read_row_groups(groups, columns=columns)
    kept, at = [], first
    for batch in parquet.iter_batches(batch_size=_batch_rows(metadata.row_group(group)),
                                      row_groups=[group], columns=columns):
        if at + batch.num_rows > start:
            kept.append(batch.slice(max(start - at, 0), end - max(start, at)))
        at += batch.num_rows
        if at >= end:
            break
    return pa.Table.from_batches(kept, schema=parquet.schema_arrow.empty_table()
                                 .select(columns).schema)


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
            parquet = pq.ParquetFile(handle, buffer_size=_READ_BUFFER, pre_buffer=False)
            table = _rows(parquet, block.start, block.end, wanted) \
                if block.end != block.start else parquet.schema_arrow.empty_table()
        except _UNREADABLE as exc:
            raise UploadRejected(f"{upload.url}: rows {block.start + 1} to {block.end}: "
                                 f"cannot read: {exc}") from exc
    raw = fr.from_arrow(meta, table.select(wanted), _NULLABLE.get)
    lines = block.first_line + np.arange(len(raw), dtype=np.int64)
    return routed_partition(raw, lines, BadRecords.empty(), upload.source_id, schema, meta)
