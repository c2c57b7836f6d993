"""The device side of the backend seam: cuDF's (and CuPy's) implementation of each
dispatcher in ``frame``, under the dispatcher's own name.

Importing this module registers them; ``frame`` imports it the first time one of its
dispatchers meets a cuDF or CuPy object, so only a machine that has made one imports cuDF.
Where cuDF lacks a kernel with pandas' semantics, the pandas side runs on the host
(``frame.via_host``, logged once as a host fallback).
"""

from __future__ import annotations

from typing import Any

import cudf
import cupy
import pyarrow as pa

from assay.transforms import frame as fr
from assay.transforms.frame import Column, Frame

FRAMES = (cudf.DataFrame, cudf.Series, cudf.BaseIndex)  # as dask-cudf registers them
ARRAYS = (cupy.ndarray,)


# ------------------------------------------------------------------ where the data lives

@fr.library.register(FRAMES)
def library(obj: object) -> Any:
    return cudf


@fr.on_device.register(FRAMES)
def on_device(obj: object) -> bool:
    return True


@fr.to_pandas.register(FRAMES)
def to_pandas(obj: Any) -> Any:
    return obj.to_pandas()


@fr.from_arrow.register(FRAMES)
def from_arrow(like: Frame, table: pa.Table, types_mapper: Any = None) -> Frame:
    return cudf.DataFrame.from_arrow(table)


@fr.via_host.register(FRAMES)
def via_host(values: Any, fallback: str, function: Any, *args: Any) -> Any:
    fr.host_fallback(fallback)
    return cudf.from_pandas(function(values.to_pandas(), *args))


@fr.arrow_strings.register(FRAMES)
def arrow_strings(values: Column) -> None:
    return None  # on the device: the Arrow fast paths are the host's


@fr.array_module.register(FRAMES + ARRAYS)
def array_module(obj: Any) -> Any:
    return cupy


@fr.segment_min.register(ARRAYS)
def segment_min(values: Any, starts: Any) -> Any:
    # GPU check: CuPy has no ufunc.reduceat; scatter_min into each value's segment must
    # give the host's minima (near_dedup's signatures equal the CPU backend's bit for bit)
    import cupyx

    segment = cupy.searchsorted(starts, cupy.arange(values.shape[1]), side="right") - 1
    out = cupy.full((values.shape[0], len(starts)), cupy.iinfo(values.dtype).max,
                    dtype=values.dtype)
    cupyx.scatter_min(out, (slice(None), segment), values)
    return out
