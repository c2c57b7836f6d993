"""A large string array's offsets and bytes as numpy arrays: what the kernels that work on a
text column's bytes (n-gram hashes, fastText's subwords) start from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_buffers(texts: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A large string array without nulls, rebuilt (without a copy) so its offsets start
    at 0 (Arrow's string kernels write data from the first offset on), with its offsets and
    data."""
    _, offset_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offset_buffer, np.int64)[texts.offset:texts.offset + len(texts) + 1]
    first = int(offsets[0])
    if first or texts.offset:
        offsets = offsets - first
        data_buffer = data_buffer.slice(first, int(offsets[-1])) if data_buffer else None
        texts = pa.Array.from_buffers(pa.large_string(), len(texts),
                                      [None, pa.py_buffer(offsets), data_buffer])
    data = (np.frombuffer(data_buffer, np.uint8)[:offsets[-1]] if data_buffer is not None
            else np.zeros(0, np.uint8))
    return texts, offsets, data
