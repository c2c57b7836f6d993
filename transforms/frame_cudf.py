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

FRAMES = (cudf.DataFrame, cudf.Series, cudf.Index)  # as dask-cudf registers them
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


@fr.scatter_min.register(ARRAYS)
def scatter_min(out: Any, index: Any, values: Any) -> None:
    # GPU check: atomic minima must give the host's (near_dedup's signatures equal the CPU
    # backend's bit for bit)
    import cupyx

    cupyx.scatter_min(out, index, values)


@fr.host_array.register(ARRAYS)
def host_array(values: Any) -> Any:
    return values.get()


@fr.array_values.register(FRAMES)
def array_values(values: Column) -> Any:
    return values.values


# ------------------------------------------------------------------- dtypes and nulls

@fr.has_nulls.register(FRAMES)
def has_nulls(values: Column) -> bool:
    return bool(values.has_nulls)


@fr.host_dtype.register(FRAMES)
def host_dtype(values: Column) -> Any:
    return values.iloc[:0].to_pandas().dtype


@fr.to_nullable.register(FRAMES)
def to_nullable(values: Column, type_name: str) -> Column:
    return values.astype(type_name)  # cuDF's own dtypes are all nullable


@fr.to_numeric.register(FRAMES)
def to_numeric(values: Column) -> Column:
    return cudf.to_numeric(values, errors="coerce")


@fr.conventional.register(FRAMES)
def conventional(values: Column) -> Column:
    return values  # cuDF dtypes are all nullable already


# ------------------------------------------------------------------------ row kernels

@fr.records_as_json.register(FRAMES)
def records_as_json(frame: Frame) -> Column:
    if len(frame) == 0:
        return cudf.Series([], dtype="str", index=frame.index)
    fr.host_fallback("records_as_json")  # quarantine-only path: rejected rows are few
    return fr.records_as_json(frame.to_pandas())


@fr.hash_rows.register(FRAMES)
def hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    subset = frame if columns is None else frame[columns]
    return subset.hash_values(method="xxhash64")


@fr.stable_hash_rows.register(FRAMES)
def stable_hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    # cuDF has no kernel for pandas' hash
    return fr.via_host(frame, "stable_hash_rows", fr.stable_hash_rows, columns)


@fr.key_hash.register(FRAMES)
def key_hash(frame: Frame, columns: list[str]) -> Column:
    # numpy over the Arrow buffers on the host: the stored hash is the CPU backend's
    return fr.via_host(frame, "key_hash", fr.key_hash, columns)


@fr.null_strings.register(FRAMES)
def null_strings(like: Frame) -> Column:
    return cudf.Series(None, index=like.index, dtype="str")


@fr.strings_at.register(FRAMES)
def strings_at(like: Column, values: Any, index: Any) -> Column:
    column = cudf.Series.from_arrow(pa.array(values, pa.string()))
    column.index = index
    return column


@fr.as_int64.register(FRAMES)
def as_int64(hashes: Column) -> Column:
    return hashes.astype("int64")  # libcudf casts integers by bit pattern (wraps)


# ---------------------------------------------------------------------- string kernels

@fr.normalize_unicode.register(FRAMES)
def normalize_unicode(values: Column, form: str) -> Column:
    # cuDF has no NFC/NFKC kernels: exact on the host, paid only by specs that ask for one
    return fr.via_host(values, "normalize_unicode", fr.normalize_unicode, form)


@fr.fullmatch.register(FRAMES)
def fullmatch(values: Column, pattern: str) -> Column:
    # cuDF has only ``match``, which anchors at the start: the pattern anchors the end
    return values.str.match(f"(?:{pattern})$")


@fr.regex_replace.register(FRAMES)
def regex_replace(values: Column, pattern: str, replacement: str) -> Column:
    if "\\" in replacement:  # cuDF's str.replace has no back-references
        return values.str.replace_with_backrefs(pattern, replacement)
    return values.str.replace(pattern, replacement, regex=True)


@fr.replace_where.register(FRAMES)
def replace_where(values: Column, where: Column, other: Column) -> Column:
    return values.mask(where, other.reindex(values.index))  # cuDF's mask does not align
