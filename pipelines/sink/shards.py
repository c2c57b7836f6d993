"""Writing curated rows as Parquet shards of a target size, hashed as they are written.

A shard is closed once it reaches the target size (checked after each row group), so
shards come out near the target without a second pass, and the sha256 the manifest needs
is taken from the bytes on their way to storage rather than by reading them back.
"""

from __future__ import annotations

import hashlib
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.spec import SinkSpec


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


def arrow_schema(meta: Any) -> pa.Schema:
    """The Parquet schema of a frame's meta: plain strings, no pandas metadata."""
    schema = pa.Schema.from_pandas(meta, preserve_index=False).remove_metadata()
    return pa.schema([pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type)
                      for f in schema])


def _compression(sink: SinkSpec) -> dict[str, Any]:
    codec = None if sink.compression == "none" else sink.compression
    return {"compression": codec, "compression_level": sink.compression_level}


def write_shards(table: pa.Table, directory: str, stem: str, sink: SinkSpec) -> list[dict]:
    """Write ``table`` as ``{stem}-{k:03d}.parquet`` files in ``directory``; describe each."""
    written: list[dict] = []
    fs, root = fsspec.core.url_to_fs(directory, **sink.storage_options)
    fs.makedirs(root, exist_ok=True)
    writer, handle, path, rows = None, None, "", 0

    def close() -> None:
        writer.close()
        handle.close()
        written.append({"path": path, "rows": rows, "bytes": handle.size,
                        "sha256": handle.digest.hexdigest()})

    for offset in range(0, table.num_rows, sink.row_group_rows):
        piece = table.slice(offset, sink.row_group_rows)
        if writer is None:
            path = f"{root.rstrip('/')}/{stem}-{len(written):03d}.parquet"
            handle = HashingFile(fs.open(path, "wb"))
            writer = pq.ParquetWriter(handle, table.schema, **_compression(sink))
            rows = 0
        writer.write_table(piece, row_group_size=sink.row_group_rows)
        rows += piece.num_rows
        if handle.size >= sink.target_shard_bytes:
            close()
            writer = None
    if writer is not None:
        close()
    return written


def write_table(table: pa.Table, path: str, sink: SinkSpec) -> dict:
    """One file for a small table (quarantine pieces, an empty dataset's schema shard)."""
    fs, root = fsspec.core.url_to_fs(path, **sink.storage_options)
    fs.makedirs(root.rsplit("/", 1)[0], exist_ok=True)
    handle = HashingFile(fs.open(root, "wb"))
    pq.write_table(table, handle, **_compression(sink))
    handle.close()
    return {"path": root, "rows": table.num_rows, "bytes": handle.size,
            "sha256": handle.digest.hexdigest()}
