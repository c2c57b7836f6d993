"""Opening an upload with the storage's failures told apart from the data's.

A failure to open or read an upload's bytes (a dropped connection, an object store's error
that outlasted the storage library's own retries, a file gone since planning) says nothing
about the upload: it raises ``StorageError`` naming the file, which the flow retries when it
may pass. Bytes the codec refuses reject the upload (``codec_errors``); parsing is the
caller's to judge. Only the libraries' own error types are taken for either: a MemoryError
or a bug (a TypeError in a reader) propagates as it is, an internal failure.
"""

from __future__ import annotations

import importlib
import lzma
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import fsspec
from fsspec.compression import compr

from assay.pipelines.errors import UploadRejected, storage_errors, storage_failure


def _zstd_errors() -> tuple[type[Exception], ...]:
    """ZstdError of each zstd module fsspec may read .zst with (it picks the first present:
    the standard library's on Python 3.14, backports.zstd, zstandard)."""
    found = []
    for module in ("compression.zstd", "backports.zstd", "zstandard"):
        try:
            found.append(importlib.import_module(module).ZstdError)
        except ImportError:
            continue
    return tuple(found)


# What the codecs raise on bytes they refuse: gzip BadGzipFile (an OSError) or zlib.error,
# bz2 OSError, xz LZMAError, zstd ZstdError, each EOFError when the stream is cut short.
# An OSError above the codec is the data's: the storage's own were StorageError below it.
DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    OSError, EOFError, zlib.error, lzma.LZMAError, *_zstd_errors())


class _StorageFile:
    """A read-only file whose storage calls raise ``StorageError`` naming the upload."""

    def __init__(self, handle: IO[bytes], url: str):
        self._handle = handle
        self._url = url

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._handle, method)(*args)
        except storage_errors() as exc:
            raise storage_failure(self._url, "read", exc) from exc

    def read(self, size: int = -1) -> bytes:
        return self._call("read", size)

    def readinto(self, buffer: Any) -> int:
        return self._call("readinto", buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._call("seek", offset, whence)

    def tell(self) -> int:
        return self._call("tell")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def opened(url: str, storage_options: dict[str, Any]) -> IO[bytes]:
    """The upload's bytes as stored, opened for the caller to close."""
    try:
        raw = fsspec.open(url, "rb", **storage_options).open()
    except storage_errors() as exc:
        raise storage_failure(url, "open", exc) from exc
    return _StorageFile(raw, url)


@contextmanager
def open_upload(url: str, storage_options: dict[str, Any]) -> Iterator[IO[bytes]]:
    """The upload's bytes as stored."""
    handle = opened(url, storage_options)
    try:
        yield handle
    finally:
        handle.close()


@contextmanager
def codec_errors(url: str, compression: str | None) -> Iterator[None]:
    """Bytes the codec refuses (an error it raises in the block) reject the upload, with
    the codec's error as the cause; a storage failure stays a StorageError."""
    try:
        yield
    except DECOMPRESSION_ERRORS as exc:
        raise UploadRejected(f"{url}: cannot read ({compression or 'plain'}): "
                             f"{type(exc).__name__}: {exc}") from exc


@contextmanager
def decompressed(stream: IO[bytes], url: str, compression: str | None
                 ) -> Iterator[IO[bytes]]:
    """``stream`` read through the codec ``compression`` (an fsspec codec name), its errors
    read in the block translated by ``codec_errors``."""
    with codec_errors(url, compression):
        if compression is None:
            yield stream
            return
        codec = compr[compression](stream, mode="rb")
        try:
            yield codec
        finally:
            codec.close()


@contextmanager
def open_decompressed(url: str, storage_options: dict[str, Any], compression: str | None
                      ) -> Iterator[IO[bytes]]:
    """``open_upload`` read through ``decompressed``."""
    with open_upload(url, storage_options) as raw, decompressed(raw, url, compression) as text:
        yield text
