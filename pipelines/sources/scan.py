"""The planning pass over each upload: content hash, newline-aligned blocks, and a sniff.

The manifest needs every input's sha256, so each file is read once before the run; counting
newlines in the same pass gives each block's first line number for free, which is how a
quarantined row names its line even when a large file is split across workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.discover import FoundFile
from assay.pipelines.sources.storage import open_decompressed, open_upload

_CHUNK = 8 * 1024 * 1024
_SNIFF = 64 * 1024
PARQUET_MAGIC = b"PAR1"
# What the first bytes of a text upload say it really is, when its name lies
_MAGIC = {PARQUET_MAGIC: "Parquet", b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd",
          b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Block:
    """Bytes [start, end) of an uncompressed file (end None = to the end), whose first line
    has number ``first_line`` (1-based, counting the header)."""

    start: int
    end: int | None
    first_line: int


@dataclass
class InputFile:
    source_id: int
    found: FoundFile
    sha256: str
    blocks: list[Block] = field(default_factory=list)
    header: list[str] | None = None

    @property
    def url(self) -> str:
        return self.found.url


def scan(found: FoundFile, source_id: int, block_size: int, storage_options: dict[str, Any]
         ) -> InputFile:
    """Hash the file and, when it is uncompressed text, cut it into line-aligned blocks."""
    splittable = found.compression is None and found.format != "parquet"
    digest = hashlib.sha256()
    starts, lines_before = [0], [0]
    offset, lines = 0, 0
    next_cut = block_size
    with open_upload(found.url, storage_options) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if splittable:
                newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                while next_cut < offset + len(chunk):
                    after = newlines[newlines >= next_cut - offset]
                    if len(after) == 0:
                        break
                    cut = int(after[0]) + 1  # the byte after the newline
                    starts.append(offset + cut)
                    lines_before.append(lines + int(np.count_nonzero(newlines < cut)))
                    next_cut = offset + cut + block_size
                lines += len(newlines)
            offset += len(chunk)
    if splittable and starts[-1] >= offset and len(starts) > 1:
        starts.pop()
        lines_before.pop()
    ends: list[int | None] = [*starts[1:], None]
    blocks = [Block(s, e, n + 1) for s, e, n in zip(starts, ends, lines_before, strict=True)]
    return InputFile(source_id, found, digest.hexdigest(), blocks)


def sniff(upload: InputFile, storage_options: dict[str, Any]) -> bytes:
    """Reject uploads that cannot be read at all; return the first (decompressed) bytes."""
    found = upload.found
    with open_decompressed(found.url, storage_options, found.compression) as handle:
        head = handle.read(_SNIFF)
    if found.format == "parquet":
        if not head.startswith(PARQUET_MAGIC):
            raise UploadRejected(f"{found.url}: not a Parquet file (no PAR1 magic bytes)")
        return head
    if not head.strip():
        raise UploadRejected(f"{found.url}: the file is empty")
    kind = found.format.upper()
    actual = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    if actual is not None:
        raise UploadRejected(f"{found.url}: {actual} data, not {kind} text "
                             "(the file name's extension is wrong)")
    if head.startswith(_UTF16_BOMS):
        raise UploadRejected(f"{found.url}: UTF-16 text; assay reads UTF-8 (convert it)")
    if b"\x00" in head:
        raise UploadRejected(f"{found.url}: binary data, not {kind} text "
                             "(NUL bytes)")
    text = head.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        raise UploadRejected(f"{found.url}: not UTF-8 text")
    if found.format == "jsonl" and not text.lstrip("\ufeff \t\r\n").startswith("{"):
        raise UploadRejected(f"{found.url}: not JSON Lines (the first record is not an object)")
    return head
