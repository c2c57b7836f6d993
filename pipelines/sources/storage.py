"""Opening an upload with the storage's failures told apart from the data's.

A failure to open or read an upload's bytes (a dropped connection, an object store's error
that outlasted the storage library's own retries, a file gone since planning) says nothing
about the upload: it raises ``StorageError`` naming the file, which the flow retries when it
may pass. Whatever goes wrong while decoding the bytes (decompressing, parsing) is the
data's fault and stays the caller's to judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import fsspec
from assay.pipelines.errors import storage_failure
from fsspec.compression import compr


class _StorageFile:
    """A read-only file whose storage calls raise ``StorageError`` naming the upload."""

    def __init__(self, handle: IO[bytes], url: str):
        self._handle = handle
        self._url = url

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._handle, method)(*args)
        except Exception as exc:
            raise storage_failure(self._url, "read", exc) from None

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


@contextmanager
def open_upload(url: str, storage_options: dict[str, Any], compression: str | None = None
                ) -> Iterator[IO[bytes]]:
    """The upload's bytes, decompressed with ``compression`` (an fsspec codec name)."""
    try:
        raw = fsspec.open(url, "rb", **storage_options).open()
    except Exception as exc:
        raise storage_failure(url, "open", exc) from None
    guarded = _StorageFile(raw, url)
    stream = guarded if compression is None else compr[compression](guarded, mode="rb")
    try:
        yield stream
    finally:
        if stream is not guarded:
            stream.close()
        raw.close()
