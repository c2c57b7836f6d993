"""A compressed upload's blocks read by continuing a decompressing stream, not each from the
file's start.

A gzip, bz2, xz or zstd stream cannot be entered in the middle: a block's bytes are found
by decompressing everything before them, so reading each of N blocks from the start costs
N/2 decompressions of the file. Instead the stream a block was read with is kept, open where
that block ended, and a later block of the same upload continues the kept stream nearest
before its start (streams only move forward). Blocks are read roughly in order, so an upload
is decompressed about once per thread reading it. A few streams are kept per process (each
holds an open file and a codec's window), the least recently used closed first; one whose
read failed is closed at once, and reading an upload's end closes all of its streams.
"""

from __future__ import annotations

import threading
from typing import IO, Any

from fsspec.compression import compr

from assay.pipelines.sources.storage import codec_errors, opened

KEPT = 4  # streams kept open per process
_lock = threading.Lock()
_kept: list[_Stream] = []  # least recently kept first


class _Stream:
    """An upload's decompressed bytes, open at ``position``."""

    def __init__(self, key: tuple[str, str], raw: IO[bytes], compression: str) -> None:
        self.key, self.raw, self.position = key, raw, 0
        try:
            self.codec = compr[compression](raw, mode="rb")
        except BaseException:
            raw.close()
            raise

    def read(self, start: int, size: int) -> bytes:
        """``size`` bytes (all when negative) from ``start``, at or after ``position``."""
        if start > self.position:
            self.codec.seek(start)  # forward: decompresses what lies between
        data = self.codec.read(size)
        self.position = start + len(data)
        return data

    def close(self) -> None:
        try:
            self.codec.close()
        finally:
            self.raw.close()


def _take(key: tuple[str, str], start: int) -> _Stream | None:
    """The kept stream of ``key`` nearest before ``start``, no longer kept."""
    with _lock:
        before = [stream for stream in _kept if stream.key == key and stream.position <= start]
        if not before:
            return None
        stream = max(before, key=lambda kept: kept.position)
        _kept.remove(stream)
        return stream


def _keep(stream: _Stream) -> None:
    with _lock:
        _kept.append(stream)
        closing = _kept[:-KEPT]
        del _kept[:-KEPT]
    for old in closing:
        old.close()


def read_decompressed(url: str, sha256: str, compression: str, start: int, size: int,
                      storage_options: dict[str, Any]) -> bytes:
    """``size`` bytes (all when negative) of the upload's decompressed bytes from ``start``
    (``sha256``, the planned content's, keeps a stream of other bytes at the same URL from
    being continued). A storage failure raises StorageError, bytes the codec refuses reject
    the upload (``codec_errors``)."""
    key = (url, sha256)
    stream = _take(key, start)
    raw = opened(url, storage_options) if stream is None else None  # the storage's errors
    with codec_errors(url, compression):
        if raw is not None:
            stream = _Stream(key, raw, compression)
        try:
            data = stream.read(start, size)
        except BaseException:
            stream.close()
            raise
    if 0 <= size == len(data):
        _keep(stream)
    else:  # at the end of the upload: this process is done with it
        stream.close()
        _close_all(key)
    return data


def _close_all(key: tuple[str, str]) -> None:
    with _lock:
        closing = [stream for stream in _kept if stream.key == key]
        _kept[:] = [stream for stream in _kept if stream.key != key]
    for stream in closing:
        stream.close()
