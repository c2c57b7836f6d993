"""Byte-level helpers shared by the text readers: loading a block, finding lines, and taking
out lines that are not valid UTF-8 (so one bad line costs one row, not the whole block)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from assay.pipelines.sources.forward import read_decompressed
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.scan import BOM, Block, InputFile
from assay.pipelines.sources.storage import open_upload
from assay.pipelines.spec import SchemaSpec, SourceSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame, array_module

Buffer = bytes | memoryview  # a block's bytes, or a part of them not copied
_SHOWN = 1024  # bytes of an over-long record kept in the quarantine


def load_block(upload: InputFile, block: Block, source: SourceSpec, most: int = -1) -> bytes:
    """The block's bytes (at most ``most``), decompressed: a compressed upload's block by
    continuing the stream an earlier block was read with (``forward``), so memory stays a
    block's size. A storage failure raises StorageError, bytes that do not decompress
    reject the upload."""
    found = upload.found
    size = -1 if block.end is None else block.end - block.start
    if most >= 0:
        size = most if size < 0 else min(size, most)
    if found.compression is not None:
        data = read_decompressed(found.url, upload.sha256, found.compression, block.start,
                                 size, source.storage_options)
    else:
        with open_upload(found.url, source.storage_options) as handle:
            if block.start:
                handle.seek(block.start)
            data = handle.read(size)
    if block.start == 0 and data.startswith(BOM):
        data = data[len(BOM):]
    return data


def unread_record(upload: InputFile, block: Block, schema: SchemaSpec, source: SourceSpec,
                  meta: Frame) -> Frame:
    """The routed partition of a block that is one over-long record (``block.reason``):
    only its start is read, to show in the quarantine."""
    head = load_block(upload, block, source, _SHOWN + 1)
    text = head[:_SHOWN].decode("utf-8", errors="backslashreplace")
    bad = BadRecords.empty()
    bad.add(block.first_line, text + ("..." if len(head) > _SHOWN else ""),
            block.reason or "")
    raw = pa.table({c.name: pa.array([], pa.string()) for c in schema.columns})
    return routed_partition(fr.from_arrow(meta, raw), np.zeros(0, dtype=np.int64), bad,
                            upload.source_id, schema, meta)


def compact(data: Buffer, starts: np.ndarray, ends: np.ndarray
            ) -> tuple[Buffer, np.ndarray, np.ndarray]:
    """Only the records [starts, ends) of ``data``, one per line, with their new bounds;
    ``data`` itself when they already follow each other."""
    if len(starts) == 0:
        return b"", starts, ends
    if bool((starts[1:] == ends[:-1] + 1).all()):
        return data, starts, ends
    view = np.frombuffer(data, dtype=np.uint8)
    marks = np.zeros(len(view) + 2, dtype=np.int8)
    marks[starts] += 1  # starts are distinct, and so are ends
    marks[ends + 1] -= 1
    kept = np.cumsum(marks[:len(view)]) > 0
    out = view[kept].tobytes()
    if ends[-1] == len(view):  # the last record had no newline
        out += b"\n"
    lengths = ends - starts
    new_starts = np.concatenate(([0], np.cumsum(lengths[:-1] + 1))).astype(np.int64)
    return out, new_starts, new_starts + lengths


def line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (end excludes the newline) of each line in ``data``."""
    return line_bounds_of(np.frombuffer(data, dtype=np.uint8))


def line_bounds_of(view: Any) -> tuple[Any, Any]:
    """``line_bounds`` of a block's bytes as a uint8 array, numpy or CuPy (the device
    CSV gate finds lines on the GPU)."""
    xp = array_module(view)
    newlines = xp.flatnonzero(view == 10).astype(xp.int64)
    ends = newlines
    if len(view) and (len(newlines) == 0 or int(newlines[-1]) != len(view) - 1):
        ends = xp.concatenate((newlines, xp.asarray([len(view)], dtype=xp.int64)))
    starts = xp.concatenate((xp.zeros(1, dtype=xp.int64), newlines[:len(ends) - 1] + 1))
    return starts[:len(ends)], ends


def blank_lines(data: Buffer, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for lines that are empty or hold only a carriage return."""
    lengths = ends - starts
    view = np.frombuffer(data, dtype=np.uint8)
    lone_cr = np.zeros(len(starts), dtype=bool)
    ones = np.flatnonzero(lengths == 1)
    lone_cr[ones] = view[starts[ones]] == 13
    return (lengths == 0) | lone_cr


def lone_carriage_returns(data: Buffer, starts: np.ndarray) -> np.ndarray:
    """True for lines holding a carriage return that is not the line's end (a CSV parser
    ends a row there too)."""
    view = np.frombuffer(data, dtype=np.uint8)
    returns = np.flatnonzero(view == 13)
    following = view[np.minimum(returns + 1, len(view) - 1)]
    lone = returns[(returns + 1 < len(view)) & (following != 10)]
    flags = np.zeros(len(starts), dtype=bool)
    flags[np.searchsorted(starts, lone, side="right") - 1] = True
    return flags


@dataclass
class BadLine:
    index: int  # 0-based line index within the block
    text: str


def valid_utf8(data: Buffer) -> bool:
    """Whether ``data`` is UTF-8, checked by Arrow without copying it and without holding
    the GIL (``bytes.decode`` holds it: a worker's reader threads would take turns)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    values = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        values.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def leading_bom(data: Buffer, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for the records [starts, ends) that begin with a UTF-8 byte order mark (files
    joined end to end): pyarrow drops one at the start of what it parses and reads one
    elsewhere as data, so a reader drops them all, whatever the block or range."""
    view = np.frombuffer(data, dtype=np.uint8)
    found = ends - starts >= len(BOM)
    for offset, byte in enumerate(BOM):
        found &= view[np.minimum(starts + offset, len(view) - 1)] == byte
    return found


def blanked(data: bytes, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """``data`` with the bytes [starts, ends) of some lines turned to spaces: a parser
    skips them while every line keeps its number."""
    view = np.frombuffer(data, dtype=np.uint8).copy()
    marks = np.zeros(len(view) + 1, dtype=np.int8)
    marks[starts] += 1  # starts are distinct, and so are ends
    marks[ends] -= 1
    view[np.cumsum(marks[:len(view)]) > 0] = ord(" ")
    return view.tobytes()


def invalid_utf8(data: Buffer, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for the records [starts, ends) of ``data`` that are not valid UTF-8: one check
    when all are, a walk over the records only in a block with bad bytes."""
    flags = np.zeros(len(starts), dtype=bool)
    if valid_utf8(data):
        return flags
    view = memoryview(data)
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        try:
            str(view[start:end], "utf-8")
        except UnicodeDecodeError:
            flags[index] = True
    return flags


def take_out_invalid_utf8(data: bytes) -> tuple[bytes, list[BadLine]]:
    """Blank every line that is not valid UTF-8, keeping line numbering; return them.

    The fast path (all valid) is one check; only a block with bad bytes is walked by line.
    """
    if valid_utf8(data):
        return data, []
    lines = data.split(b"\n")
    bad = []
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(BadLine(i, line.decode("utf-8", errors="backslashreplace")))
            lines[i] = b""
    return b"\n".join(lines), bad
