"""Finding the uploads: expand paths, globs and URLs, detect format and compression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from assay.pipelines.errors import UploadRejected

COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2",
                ".xz": "xz"}
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_HIDDEN_PREFIXES = (".", "_")


@dataclass(frozen=True)
class FoundFile:
    url: str  # protocol-qualified for non-local filesystems
    path: str  # as the filesystem names it
    format: str
    compression: str | None
    size: int


def _suffixes(name: str) -> tuple[str | None, str | None]:
    """(format, compression) from a file name's extensions."""
    lower = name.lower()
    compression = None
    for ext, codec in COMPRESSIONS.items():
        if lower.endswith(ext):
            compression = codec
            lower = lower[: -len(ext)]
            break
    fmt = next((f for ext, f in FORMATS.items() if lower.endswith(ext)), None)
    return fmt, compression


def _expand(fs: fsspec.AbstractFileSystem, pattern: str) -> list[str]:
    if any(ch in pattern for ch in "*?["):
        return sorted(fs.glob(pattern))
    if fs.isdir(pattern):
        found = fs.find(pattern)
        return sorted(
            p for p in found
            if not p.rsplit("/", 1)[-1].startswith(_HIDDEN_PREFIXES) and _suffixes(p)[0]
        )
    if not fs.exists(pattern):
        return []
    return [pattern]


def discover(paths: list[str], fmt: str, storage_options: dict[str, Any]) -> list[FoundFile]:
    """Every upload file named by ``paths``, sorted, with format and compression.

    A path that matches nothing, or a file whose format can't be told, rejects the run.
    """
    found: dict[str, FoundFile] = {}
    for pattern in paths:
        fs, root = url_to_fs(pattern, **storage_options)
        matches = _expand(fs, root)
        if not matches:
            raise UploadRejected(f"{pattern}: no such file, or nothing matches")
        for path in matches:
            if fs.isdir(path):
                continue
            detected, compression = _suffixes(path)
            file_format = detected if fmt == "auto" else fmt
            if file_format is None:
                raise UploadRejected(
                    f"{path}: cannot tell the format from the name; set source.format "
                    "(csv, jsonl or parquet)"
                )
            # a plain path for the local disk; any other filesystem (one derived from the
            # local one included) keeps its protocol, so the workers open it the same way
            url = path if type(fs) is LocalFileSystem else fs.unstrip_protocol(path)
            found[url] = FoundFile(url, path, file_format, compression, fs.size(path))
    return [found[key] for key in sorted(found)]
