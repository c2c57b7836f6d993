"""The planning pass over each upload: content hash, blocks that start at records, a sniff.

The manifest needs every input's sha256, so each file is read once before the run (a local
text file twice when the run has fewer files than threads: its hash in a read of its own
beside its cut, so that a single upload takes both cores; a 1.4 GB CSV planned in 1.43-1.52
s instead of 2.08-2.22 s, ``benchmarks/RESULTS.md``). A text upload (compressed ones
decompressed in the same pass) is split in the same pass into blocks of about
``source.block_size`` bytes, each starting where a record starts (``records``: a quoted CSV
value may span lines), with the number of the block's first line, which is how a quarantined
row names its line even when a large file is split across workers. A record longer than
``source.max_record_bytes`` is a block of its own, quarantined without being read, so no
block holds more than the block size plus one record's limit.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import IO, Any

import numpy as np

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.discover import FoundFile
from assay.pipelines.sources.records import NEWLINE, Records, split_records, too_long
from assay.pipelines.sources.storage import decompressed, open_decompressed, open_upload
from assay.pipelines.spec import SourceSpec

_CHUNK = 8 * 1024 * 1024
_SNIFF = 64 * 1024
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"
# What the first bytes of a text upload say it really is, when its name lies
_MAGIC = {PARQUET_MAGIC: "Parquet", b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd",
          b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Block:
    """Bytes [start, end) of the (decompressed) file (end None = to the end), whose first
    line has number ``first_line`` (1-based, counting the header). ``reason``: the block is
    one record over the length limit, quarantined with this reason without being read.
    ``lines_are_records``: the planning scan found every record of the block to be one
    line and none bad, so a reader may take its lines for its records (a hint it checks:
    False only costs the reader its own record split)."""

    start: int
    end: int | None
    first_line: int
    reason: str | None = None
    lines_are_records: bool = False


@dataclass
class InputFile:
    source_id: int
    found: FoundFile
    sha256: str
    blocks: list[Block] = field(default_factory=list)
    header: list[str] | None = None
    decoded_size: int | None = None  # Parquet: its row groups' uncompressed bytes (footer)

    @property
    def url(self) -> str:
        return self.found.url


class _Hashing:
    """A file whose bytes are hashed as they are read (by a decompressor or by us), unless
    ``digest`` says the file is hashed aside; it has only the read methods, so no codec can
    read past the hash."""

    def __init__(self, handle: IO[bytes], digest: Future[str] | None = None) -> None:
        self.handle = handle
        self.aside = digest
        self.digest = hashlib.sha256() if digest is None else None

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.digest is not None:
            self.digest.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = self.handle.readinto(buffer)
        if self.digest is not None:
            self.digest.update(memoryview(buffer)[:count])
        return count

    def sha256(self) -> str:
        """The file's sha256, once all of it was read (or hashed aside)."""
        if self.digest is None:
            return self.aside.result()
        while self.read(_CHUNK):  # what a codec left after its stream, or all of a Parquet file
            pass
        return self.digest.hexdigest()


class _Cutter:
    """Cuts a text upload's bytes, fed in order, into blocks that start at records."""

    def __init__(self, source: SourceSpec, quote: int | None, delimiter: int) -> None:
        self.block_size, self.limit = source.block_size, source.max_record_bytes
        self.quote, self.delimiter = quote, delimiter
        self.blocks: list[Block] = []
        self.open = (0, 1)  # start and first line of the block being filled
        self.pending = np.zeros(0, dtype=np.uint8)
        self.offset = 0  # of pending[0] in the file
        self.lines = 0  # newlines before ``offset``
        self.skipping = False  # through an over-long record, to its line's end
        self.started = False
        self.bom = 0  # the length of the byte order mark the file starts with
        # where records start that are not one line (spanning lines, or bad), from the
        # open block's start on
        self.irregular = np.zeros(0, dtype=np.int64)

    def feed(self, chunk: bytes, final: bool) -> None:
        view = np.frombuffer(chunk, dtype=np.uint8)
        if not self.started and chunk.startswith(BOM):
            view, self.offset = view[len(BOM):], len(BOM)
            self.bom = len(BOM)
        self.started = True
        if self.skipping:
            newline = np.flatnonzero(view == NEWLINE)
            if len(newline) == 0:
                self.offset += len(view)
                if final:
                    self._cut(self.offset, 0, too_long(self.limit))
                return
            self.lines += 1
            self.offset += int(newline[0]) + 1
            self._cut(self.offset, self.lines, too_long(self.limit))
            view = view[int(newline[0]) + 1:]
        buffer = np.concatenate((self.pending, view)) if len(self.pending) else view
        records = split_records(buffer, self.quote, self.delimiter, self.limit, final)
        newlines = records.newlines
        self.irregular = np.concatenate((self.irregular,
                                         self.offset + _irregular(records, len(buffer))))
        boundaries = records.ends[records.ends < len(buffer)] + 1
        for span in records.bad:
            if span.end - span.start > self.limit:  # a block of its own, never loaded
                self._cut_before(boundaries[boundaries <= span.start], newlines)
                self._cut(self.offset + span.start, self.lines + _count(newlines, span.start))
                self._cut(self.offset + span.end + 1,
                          self.lines + _count(newlines, span.end + 1), span.reason)
        self._cut_before(boundaries, newlines)
        rest = records.rest
        if records.overlong is not None:  # not final: its line ends in a later chunk
            self._cut(self.offset + records.overlong,
                      self.lines + _count(newlines, records.overlong))
            self.skipping = True
            rest = len(buffer)
        self.lines += _count(newlines, rest)
        self.offset += rest
        self.pending = buffer[rest:].copy() if not final else self.pending[:0]

    def _cut_before(self, boundaries: np.ndarray, newlines: np.ndarray) -> None:
        """Cut at the first record boundary a block size after each block's start."""
        while True:
            target = self.open[0] + self.block_size - self.offset
            index = np.searchsorted(boundaries, max(target, self.open[0] - self.offset + 1))
            if index == len(boundaries):
                return
            at = int(boundaries[index])
            self._cut(self.offset + at, self.lines + _count(newlines, at))

    def _cut(self, at: int, lines_before: int, reason: str | None = None) -> None:
        """End the open block at ``at`` (with ``reason``: it was one over-long record) and
        open the next there; a cut right after the file's byte order mark is at the file's
        start (the first block keeps its header)."""
        start, first_line = self.open
        if at == self.bom:
            at = 0
        regular = int(np.searchsorted(self.irregular, at)) == 0
        self.irregular = self.irregular[np.searchsorted(self.irregular, at):]
        if at > start:
            self.blocks.append(Block(start, at, first_line, reason,
                                     regular and reason is None))
        if reason is not None:
            self.skipping = False
        self.open = (at, lines_before + 1)

    def finish(self, size: int) -> list[Block]:
        start, first_line = self.open
        if start < size or not self.blocks:
            self.blocks.append(Block(start, size, first_line,
                                     lines_are_records=len(self.irregular) == 0))
        self.blocks[-1] = replace(self.blocks[-1], end=None)
        return self.blocks


def _count(newlines: np.ndarray, before: int) -> int:
    return int(np.searchsorted(newlines, before))


def _irregular(records: Records, size: int) -> np.ndarray:
    """Where the records of ``records`` (found in ``size`` bytes) that are not exactly one
    line start: those that span lines, and the bad spans. Counting the newlines inside
    records answers the usual case, where there are none, without a search per record."""
    starts, ends, newlines = records.starts, records.ends, records.newlines
    ended = int(np.searchsorted(ends, size))  # records that end at a newline
    inside = int(np.searchsorted(newlines, records.rest)) - ended \
        - sum(span.end < size for span in records.bad)
    bad = np.array([span.start for span in records.bad], dtype=np.int64)
    if inside == 0:
        return bad
    spanning = np.searchsorted(newlines, starts) != np.searchsorted(newlines, ends)
    return np.sort(np.concatenate((starts[spanning], bad)))


def sha256_of(found: FoundFile, storage_options: dict[str, Any]) -> str:
    """The sha256 of the upload's bytes as stored, read on their own (``scan``'s
    ``digest``)."""
    with open_upload(found.url, storage_options) as raw:
        return hashlib.file_digest(raw, "sha256").hexdigest()


def scan(found: FoundFile, source_id: int, source: SourceSpec,
         digest: Future[str] | None = None) -> InputFile:
    """Hash the file and, when it is text, cut it into blocks that start at records; a
    compressed upload that expands past ``source.max_decompressed_bytes`` is rejected.
    ``digest``: the file's sha256 being computed aside (``sha256_of``, in another thread),
    so this pass only cuts (a single large upload then takes both cores)."""
    with open_upload(found.url, source.storage_options) as raw:
        hashing = _Hashing(raw, digest)
        if found.format == "parquet":
            return InputFile(source_id, found, hashing.sha256())
        csv = found.format == "csv"
        cutter = _Cutter(source, ord(source.csv.quote_char) if csv else None,
                         ord(source.csv.delimiter))
        size = 0
        with decompressed(hashing, found.url, found.compression) as text:
            chunk = text.read(_CHUNK)
            while chunk:
                size += len(chunk)
                if found.compression is not None and size > source.max_decompressed_bytes:
                    raise UploadRejected(f"{found.url}: decompresses to more than "
                                         f"{source.max_decompressed_bytes:,} bytes "
                                         "(source.max_decompressed_bytes)")
                following = text.read(_CHUNK)
                cutter.feed(chunk, final=not following)
                chunk = following
        sha256 = hashing.sha256()
    blocks = cutter.finish(size)
    if csv and source.csv.header and blocks[0].first_line == 1 and blocks[0].reason:
        raise UploadRejected(f"{found.url}: line 1, the header, is longer than "
                             f"source.max_record_bytes ({source.max_record_bytes:,} bytes)")
    return InputFile(source_id, found, sha256, blocks)


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
