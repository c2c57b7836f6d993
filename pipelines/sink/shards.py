"""Writing curated rows as Parquet shards of a target size, hashed as they are written.

On the host (pyarrow), a shard is closed once it reaches the target size (checked after
each row group), so shards come out near the target without a second pass, and the sha256
the manifest needs is taken from the bytes on their way to storage rather than by reading
them back. Only string columns with few distinct values get a dictionary: on the others
pyarrow's writer builds one, finds it too big and encodes the values again. On cuDF
partitions the device encodes and compresses (pipelines differ in bytes, not in rows,
values or types).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assay.pipelines.spec import SinkSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

log = logging.getLogger("assay.backend")


class HashingFile:
    """A write-only file wrapper that hashes and counts what passes through it."""

    def __init__(self, handle: Any):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        if not self.closed:
            self.handle.close()
            self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def describe(self, path: str, rows: int) -> dict:
        """The manifest's entry for the file written through this wrapper."""
        return {"path": path, "rows": rows, "bytes": self.size,
                "sha256": self.digest.hexdigest()}


def arrow_schema(meta: Any) -> pa.Schema:
    """The Parquet schema of a frame's meta: plain strings, no pandas metadata."""
    schema = pa.Schema.from_pandas(meta, preserve_index=False).remove_metadata()
    return pa.schema([pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type)
                      for f in schema])


# the sink's codecs as cuDF's writer names them
_DEVICE_CODECS = {"zstd": "ZSTD", "snappy": "SNAPPY", "gzip": "GZIP", "lz4": "LZ4", "none": None}


def parquet_codec(sink: SinkSpec) -> str | None:
    """The sink's codec as pyarrow's writer names it (None: uncompressed)."""
    return None if sink.compression == "none" else sink.compression


def _compression(sink: SinkSpec) -> dict[str, Any]:
    return {"compression": parquet_codec(sink), "compression_level": sink.compression_level}


# a string column gets a dictionary when its shard's first row group has at most one
# distinct value per this many rows (the standard job: user 1/10 and country do, text 1/5
# does not; its shards then write in 0.6x the time, 1% smaller)
DICTIONARY_ROWS_PER_VALUE = 8


def _dictionary_columns(piece: pa.Table) -> list[str]:
    """The string columns worth a dictionary in a shard starting with ``piece``: at most
    one distinct value per ``DICTIONARY_ROWS_PER_VALUE`` rows."""
    most = piece.num_rows // DICTIONARY_ROWS_PER_VALUE
    return [field.name for field in piece.schema
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            if _distinct_at_most(piece.column(field.name), most)]


def _distinct_at_most(values: pa.ChunkedArray, most: int) -> bool:
    """Whether ``values`` hold at most ``most`` distinct values (nulls one of them). Its
    first ``most + 1`` values are counted first: all distinct, the answer is no without
    hashing the rest (a column of unique texts hashes an eighth of its bytes)."""
    if len(values) > most + 1 and _distinct(values.slice(0, most + 1)) > most:
        return False
    return _distinct(values) <= most


def _distinct(values: pa.ChunkedArray) -> int:
    return pc.count_distinct(values, mode="all").as_py()


def _shard_path(root: str, stem: str, number: int) -> str:
    return f"{root.rstrip('/')}/{stem}-{number:03d}.parquet"


def host_table(rows: Frame, schema: pa.Schema) -> pa.Table:
    """``rows`` as the Arrow table pyarrow's writer takes, typed by ``schema``."""
    return pa.Table.from_pandas(fr.to_pandas(rows), schema=schema, preserve_index=False)


def write_shards(rows: Frame | pa.Table, schema: pa.Schema, directory: str, stem: str,
                 sink: SinkSpec) -> list[dict]:
    """Write ``rows`` as ``{stem}-{k:03d}.parquet`` files in ``directory``; describe each.
    A cuDF frame is encoded on the device where it can be, anything else by pyarrow (rows
    already in Arrow as they are)."""
    if isinstance(rows, pa.Table):
        return _host_shards(rows, directory, stem, sink)
    if fr.on_device(rows):
        written = _device_shards(rows, schema, directory, stem, sink)
        if written is not None:
            return written
    return _host_shards(host_table(rows, schema), directory, stem, sink)


def _host_shards(table: pa.Table, directory: str, stem: str, sink: SinkSpec) -> list[dict]:
    """pyarrow's writer, a row group at a time, closing a shard once it reaches the target
    size; bytes are hashed on their way to storage."""
    written: list[dict] = []
    fs, root = fsspec.core.url_to_fs(directory, **sink.storage_options)
    fs.makedirs(root, exist_ok=True)
    writer, handle, path, rows = None, None, "", 0

    def close() -> None:
        writer.close()
        handle.close()
        written.append(handle.describe(path, rows))

    for offset in range(0, table.num_rows, sink.row_group_rows):
        piece = table.slice(offset, sink.row_group_rows)
        if writer is None:
            path = _shard_path(root, stem, len(written))
            handle = HashingFile(fs.open(path, "wb"))
            writer = pq.ParquetWriter(handle, table.schema, **_compression(sink),
                                      use_dictionary=_dictionary_columns(piece))
            rows = 0
        writer.write_table(piece, row_group_size=sink.row_group_rows)
        rows += piece.num_rows
        if handle.size >= sink.target_shard_bytes:
            close()
            writer = None
    if writer is not None:
        close()
    return written


def _device_shards(rows: Frame, schema: pa.Schema, directory: str, stem: str,
                   sink: SinkSpec) -> list[dict] | None:
    """cuDF's writer: the rows encoded and compressed on the device, only the files' bytes
    copied to the host. A partition whose file would pass the target size is cut into
    equal slices, each encoded again. None (the host writer is used) when the sink asks
    for a compression level, which cuDF's writer does not have, when the writer fails, or
    when a file it made would read back with other types than ``schema`` (the host
    writer's): nothing is written then."""
    if sink.compression_level is not None:
        fr.host_fallback("write_parquet")
        return None
    codec = _DEVICE_CODECS[sink.compression]
    try:
        files = _encoded_slices(rows, codec, sink.row_group_rows, sink.target_shard_bytes)
    except (AttributeError, NotImplementedError, TypeError, ValueError, RuntimeError) as exc:
        log.warning("cuDF backend: device Parquet writer failed (%s)", exc)
        fr.host_fallback("write_parquet")
        return None
    differs = _schema_difference(pq.read_schema(pa.BufferReader(files[0][1])), schema)
    if differs:
        log.warning("cuDF backend: device Parquet writer's types differ from the host "
                    "writer's (%s)", differs)
        fr.host_fallback("write_parquet")
        return None
    fs, root = fsspec.core.url_to_fs(directory, **sink.storage_options)
    fs.makedirs(root, exist_ok=True)
    written = []
    for number, (count, data) in enumerate(files):
        path = _shard_path(root, stem, number)
        handle = HashingFile(fs.open(path, "wb"))
        handle.write(data)
        handle.close()
        written.append(handle.describe(path, count))
    return written


def _schema_difference(got: pa.Schema, want: pa.Schema) -> str:
    """The fields of ``got`` that differ from ``want`` in name, type or nullability ("" when
    none): the slices of one partition share the encoder's choices, so the first file
    answers for all."""
    if got.names != want.names:
        return f"columns {got.names} instead of {want.names}"
    return "; ".join(f"{a.name}: {a.type}{'' if a.nullable else ' not null'} instead of "
                     f"{b.type}{'' if b.nullable else ' not null'}"
                     for a, b in zip(got, want, strict=True)
                     if a.type != b.type or a.nullable != b.nullable)


def _encoded_slices(rows: Frame, codec: str | None, row_group_rows: int, target: int
                    ) -> list[tuple[int, bytes]]:
    """(rows, file bytes) of one file for ``rows``, or of equal slices when one file would
    pass ``target`` bytes."""
    whole = parquet_bytes(rows, codec, row_group_rows)
    pieces = -(-len(whole) // target)
    if pieces <= 1:
        return [(len(rows), whole)]
    bounds = np.linspace(0, len(rows), pieces + 1).astype(int)
    return [(stop - start, parquet_bytes(rows.iloc[start:stop], codec, row_group_rows))
            for start, stop in itertools.pairwise(bounds) if stop > start]


def parquet_bytes(rows: Frame, compression: str | None, row_group_rows: int) -> bytes:
    """A cuDF frame as one Parquet file, encoded and compressed on the device by libcudf's
    writer, called through pylibcudf because cuDF's ``to_parquet`` marks timestamps as
    not adjusted to UTC (readers would lose the zone) and columns without nulls as
    required. Here every column is nullable and timestamps are UTC, as in pyarrow's files
    from the pandas backend, and no Arrow schema is stored (cuDF's names strings
    ``string_view``): readers take the types from Parquet's own logical types."""
    import pylibcudf as plc

    table = plc.Table([column.plc_column for column in rows._columns])
    metadata = plc.io.types.TableInputMetadata(table)
    for number, name in enumerate(rows.columns):
        metadata.column_metadata[number].set_name(str(name))
        metadata.column_metadata[number].set_nullability(True)
    codec = getattr(plc.io.types.CompressionType, (compression or "none").upper())
    buffer = io.BytesIO()
    options = (plc.io.parquet.ParquetWriterOptions.builder(plc.io.SinkInfo([buffer]), table)
               .metadata(metadata).compression(codec).utc_timestamps(True)
               .write_arrow_schema(False).build())
    options.set_row_group_size_rows(row_group_rows)
    plc.io.parquet.write_parquet(options)
    return buffer.getvalue()


def write_table(table: pa.Table, path: str, sink: SinkSpec) -> dict:
    """One file for a small table (quarantine pieces, an empty dataset's schema shard)."""
    fs, root = fsspec.core.url_to_fs(path, **sink.storage_options)
    fs.makedirs(root.rsplit("/", 1)[0], exist_ok=True)
    handle = HashingFile(fs.open(root, "wb"))
    pq.write_table(table, handle, **_compression(sink))
    handle.close()
    return handle.describe(root, table.num_rows)
