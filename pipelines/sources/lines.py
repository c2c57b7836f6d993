"""Byte-level helpers shared by the text readers: loading a block, finding lines, and taking
out lines that are not valid UTF-8 (so one bad line costs one row, not the whole block)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.sources.storage import open_decompressed
from assay.pipelines.spec import SourceSpec
from assay.transforms.frame import array_module

BOM = b"\xef\xbb\xbf"


def load_block(upload: InputFile, block: Block, source: SourceSpec) -> bytes:
    """The block's bytes (the whole decompressed file for a compressed upload, which is
    refused once it expands past ``source.max_decompressed_bytes``: a zip bomb); a storage
    failure raises StorageError, bytes that do not decompress reject the upload."""
    found = upload.found
    limit = source.max_decompressed_bytes
    with open_decompressed(found.url, source.storage_options, found.compression) as handle:
        if found.compression is None and block.start:
            handle.seek(block.start)
        size = block.end - block.start if block.end is not None \
            else -1 if found.compression is None else limit + 1
        data = handle.read(size)
    if found.compression is not None and len(data) > limit:
        raise UploadRejected(f"{found.url}: decompresses to more than {limit:,} bytes "
                             "(source.max_decompressed_bytes)")
    if block.start == 0 and data.startswith(BOM):
        data = data[len(BOM):]
    return data


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


def blank_lines(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for lines that are empty or hold only a carriage return."""
    lengths = ends - starts
    view = np.frombuffer(data, dtype=np.uint8)
    lone_cr = np.zeros(len(starts), dtype=bool)
    ones = np.flatnonzero(lengths == 1)
    lone_cr[ones] = view[starts[ones]] == 13
    return (lengths == 0) | lone_cr


def lone_carriage_returns(data: bytes, starts: np.ndarray) -> np.ndarray:
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


def _valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, checked by Arrow without copying it and without holding
    the GIL (``bytes.decode`` holds it: a worker's reader threads would take turns)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    values = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        values.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def take_out_invalid_utf8(data: bytes) -> tuple[bytes, list[BadLine]]:
    """Blank every line that is not valid UTF-8, keeping line numbering; return them.

    The fast path (all valid) is one check; only a block with bad bytes is walked by line.
    """
    if _valid_utf8(data):
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
