"""Which storage failures the flow retries, and which end a run at once; which errors
reject an upload; and that any other error (a bug, a MemoryError) is neither."""

from __future__ import annotations

import errno
import http.client
import zlib
from pathlib import Path
from types import SimpleNamespace

import botocore.exceptions
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.compression import compr

from assay.pipelines.errors import (
    EXIT_STORAGE,
    StorageError,
    TransientStorageError,
    UploadRejected,
    storage_failure,
)
from assay.pipelines.sources.discover import FoundFile
from assay.pipelines.sources.lines import load_block
from assay.pipelines.sources.parquet_reader import parquet_blocks
from assay.pipelines.sources.scan import Block, InputFile, sniff
from assay.pipelines.sources.storage import open_upload
from assay.pipelines.spec import SourceSpec


@pytest.mark.parametrize(("error", "transient", "says"), [
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), True, "reset"),
    (TimeoutError("read timed out"), True, "timed out"),
    (OSError("503 Slow Down"), True, "Slow Down"),
    (RuntimeError("botocore: endpoint connection error"), True, "endpoint"),
    (OSError(errno.ENOSPC, "No space left on device"), False, "out of space"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), False, "out of space"),
    (OSError(errno.EROFS, "Read-only file system"), False, "Read-only"),
    (FileNotFoundError(errno.ENOENT, "No such file"), False, "No such file"),
    (PermissionError(errno.EACCES, "Access Denied"), False, "Access Denied"),
])
def test_storage_failures_are_told_apart(error: BaseException, transient: bool, says: str
                                         ) -> None:
    failure = storage_failure("s3://bucket/in/a.csv", "read", error)
    assert isinstance(failure, StorageError)
    assert isinstance(failure, TransientStorageError) == transient
    assert failure.exit_code == EXIT_STORAGE
    assert str(failure).startswith("s3://bucket/in/a.csv: read failed")
    assert says in str(failure) and "\n" not in str(failure)


class _Handle:
    """An opened upload (or a codec's stream) whose reads raise ``error``."""

    def __init__(self, error: BaseException):
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error

    def close(self) -> None:
        pass


def _opening(monkeypatch: pytest.MonkeyPatch, handle: _Handle) -> None:
    """``fsspec.open`` hands out ``handle`` for any URL."""
    monkeypatch.setattr(fsspec, "open", lambda *a, **k: SimpleNamespace(open=lambda: handle))


@pytest.mark.parametrize(("error", "transient"), [
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), True),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3.example"), True),
    (http.client.IncompleteRead(b"", 10), True),
    (PermissionError(errno.EACCES, "Access Denied"), False),
])
def test_a_storage_read_failure_is_a_storage_error_caused_by_it(
    monkeypatch: pytest.MonkeyPatch, error: Exception, transient: bool
) -> None:
    _opening(monkeypatch, _Handle(error))
    with pytest.raises(StorageError) as caught, open_upload("s3://b/a.csv", {}) as handle:
        handle.read()
    assert isinstance(caught.value, TransientStorageError) == transient
    assert caught.value.__cause__ is error


@pytest.mark.parametrize("error", [TypeError("read() takes 1 argument"), MemoryError(),
                                   AttributeError("no attribute 'fetch'")])
def test_a_bug_under_a_read_is_not_a_storage_error(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """Not retried as a transient storage failure: it propagates as it is."""
    _opening(monkeypatch, _Handle(error))
    with pytest.raises(type(error)) as caught, open_upload("s3://b/a.csv", {}) as handle:
        handle.read()
    assert caught.value is error


def _gzip_upload_raising(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                         error: BaseException) -> InputFile:
    """A .csv.gz upload whose codec raises ``error`` on its first read."""
    url = str(tmp_path / "a.csv.gz")
    Path(url).write_bytes(b"\x1f\x8b")
    monkeypatch.setitem(compr, "gzip", lambda raw, mode: _Handle(error))
    return InputFile(0, FoundFile(url, url, "csv", "gzip", 0), "0", [Block(0, None, 1)])


@pytest.mark.parametrize("reading", ["sniff", "load_block"])
@pytest.mark.parametrize("error", [EOFError("ended before the end-of-stream marker"),
                                   zlib.error("invalid block type"), OSError("Invalid data")])
def test_bytes_the_codec_refuses_reject_the_upload_with_its_error_as_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception, reading: str
) -> None:
    """Whether the upload is sniffed or a block is read (continuing a kept stream)."""
    upload = _gzip_upload_raising(monkeypatch, tmp_path, error)
    with pytest.raises(UploadRejected, match=r"a\.csv\.gz: cannot read \(gzip\): ") as caught:
        if reading == "sniff":
            sniff(upload, {})
        else:
            load_block(upload, upload.blocks[0], SourceSpec(paths=["a.csv.gz"]))
    assert caught.value.__cause__ is error


@pytest.mark.parametrize("error", [MemoryError(), TypeError("bug in a codec wrapper"),
                                   KeyboardInterrupt()])
def test_an_error_that_is_not_the_codecs_does_not_reject_the_upload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: BaseException
) -> None:
    """A MemoryError while decompressing is not a verdict on the upload."""
    upload = _gzip_upload_raising(monkeypatch, tmp_path, error)
    with pytest.raises(type(error)) as caught:
        load_block(upload, upload.blocks[0], SourceSpec(paths=["a.csv.gz"]))
    assert caught.value is error


def test_a_bug_in_the_parquet_reader_is_not_a_rejected_upload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [1]}), path)
    bug = TypeError("ParquetFile() got an unexpected keyword argument")
    monkeypatch.setattr(pq, "ParquetFile", lambda *a, **k: (_ for _ in ()).throw(bug))
    with pytest.raises(TypeError) as caught:
        parquet_blocks(str(path), {}, 1 << 26)
    assert caught.value is bug


def test_a_corrupt_parquet_footer_is_rejected_with_pyarrows_error_as_cause(tmp_path: Path
                                                                            ) -> None:
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(UploadRejected, match="not a readable Parquet file") as caught:
        parquet_blocks(str(path), {}, 1 << 26)
    assert isinstance(caught.value.__cause__, OSError | pa.ArrowInvalid)
