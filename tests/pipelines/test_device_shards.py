"""The device shard writer's own logic (cutting, naming, hashing, falling back to the host
writer), with pyarrow standing in for cuDF's encoder; the encoder itself is checked on a GPU
by the parity suite (shard contents equal on both backends)."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.pipelines.sink import shards
from assay.pipelines.spec import SinkSpec
from assay.transforms import frame as fr

ROWS = pd.DataFrame({"id": np.arange(20_000), "text": [f"row {i} " * 8 for i in range(20_000)]})
SCHEMA = shards.arrow_schema(ROWS.iloc[:0])  # the host writer's types


def _encode(frame: pd.DataFrame, compression: str | None, row_group_rows: int) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False), buffer,
                   compression=compression and compression.lower(), row_group_size=row_group_rows)
    return buffer.getvalue()


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """pyarrow as the device encoder; returns the row counts it was asked to encode."""
    calls: list[int] = []

    def encode(frame: pd.DataFrame, compression: str | None, row_group_rows: int) -> bytes:
        calls.append(len(frame))
        return _encode(frame, compression, row_group_rows)

    monkeypatch.setattr(shards, "parquet_bytes", encode)
    return calls


def test_a_partition_under_the_target_is_one_file_encoded_once(
        tmp_path: Path, encoder: list[int]) -> None:
    written = shards._device_shards(ROWS, SCHEMA, str(tmp_path), "p000001", SinkSpec(path="x"))
    assert encoder == [len(ROWS)]
    assert [Path(w["path"]).name for w in written] == ["p000001-000.parquet"]
    data = Path(written[0]["path"]).read_bytes()
    assert written[0] == {"path": written[0]["path"], "rows": len(ROWS), "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()}
    assert pq.read_table(written[0]["path"]).to_pandas().equals(ROWS)


def test_a_partition_over_the_target_is_cut_into_equal_slices(
        tmp_path: Path, encoder: list[int]) -> None:
    whole = len(_encode(ROWS, "ZSTD", 4096))
    sink = SinkSpec(path="x", target_shard_bytes=whole // 3 + 1, row_group_rows=4096)
    written = shards._device_shards(ROWS, SCHEMA, str(tmp_path), "p000002", sink)
    assert [w["rows"] for w in written] == [6666, 6667, 6667]
    assert encoder == [len(ROWS), 6666, 6667, 6667]
    back = pd.concat([pq.read_table(w["path"]).to_pandas() for w in written], ignore_index=True)
    assert back.equals(ROWS)
    assert [Path(w["path"]).name for w in written] == [
        f"p000002-{k:03d}.parquet" for k in range(3)]


def test_a_compression_level_or_a_failing_encoder_leaves_the_shards_to_the_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fr.host_fallback.cache_clear()
    assert shards._device_shards(ROWS, SCHEMA, str(tmp_path), "p", SinkSpec(
        path="x", compression_level=5)) is None

    def broken(*args: object) -> bytes:
        raise TypeError("unexpected keyword argument 'store_schema'")

    monkeypatch.setattr(shards, "parquet_bytes", broken)
    with caplog.at_level(logging.WARNING, logger="assay.backend"):
        assert shards._device_shards(ROWS, SCHEMA, str(tmp_path), "p", SinkSpec(path="x")) is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("device Parquet writer failed (unexpected keyword" in m for m in messages)
    assert list(tmp_path.iterdir()) == []  # nothing half written


def test_a_file_whose_types_differ_from_the_host_writers_leaves_the_shards_to_the_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """cuDF's own writer stored strings as string_view, timestamps without their zone and
    columns without nulls as required: such files are never published."""
    def narrowed(frame: pd.DataFrame, compression: str | None, row_group_rows: int) -> bytes:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.cast(pa.schema([pa.field("id", pa.int64(), nullable=False),
                                      pa.field("text", pa.string_view())]))
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    fr.host_fallback.cache_clear()
    monkeypatch.setattr(shards, "parquet_bytes", narrowed)
    with caplog.at_level(logging.WARNING, logger="assay.backend"):
        assert shards._device_shards(ROWS, SCHEMA, str(tmp_path), "p", SinkSpec(path="x")) is None
    assert list(tmp_path.iterdir()) == []
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "id: int64 not null instead of int64; text: string_view instead of string" in messages
    assert "host fallback for" in messages


def test_schema_difference_names_columns_types_and_nullability() -> None:
    want = pa.schema([("a", pa.int64()), ("t", pa.timestamp("us", "UTC"))])
    assert shards._schema_difference(want, want) == ""
    assert shards._schema_difference(pa.schema([("a", pa.int64())]), want) == \
        "columns ['a'] instead of ['a', 't']"
    got = pa.schema([("a", pa.int64()), ("t", pa.timestamp("us"))])
    assert shards._schema_difference(got, want) == \
        "t: timestamp[us] instead of timestamp[us, tz=UTC]"
