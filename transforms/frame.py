"""The backend seam: the only place that knows whether a partition is pandas or cuDF.

Each operation whose pandas and cuDF implementations differ is a ``dask.utils.Dispatch``,
as in Dask's own ``dask/dataframe/dispatch.py``: called with a frame, column or array first,
it runs the implementation registered for that object's type. This module holds the host
side (pandas, numpy), registered here; ``frame_cudf`` holds the device side (cuDF, CuPy)
and registers it when it is imported. Every dispatcher imports it the first time it meets
an object of a ``cudf`` or ``cupy`` module (``register_lazy``, as Dask registers dask-cudf),
so a CPU machine never imports cuDF. Dask's ``Dispatch`` rather than one of our own: it is
already on every worker, caches the lookup per type, and its lazy registration keyed by
the top-level module is exactly the seam's need.

Two modules rather than one: the device side imports cuDF at its top, as its registrations
name cuDF's types; each of its functions carries the same name as the dispatcher it
implements, so the two sides of an operation read side by side. Everything else in this
module is written against the API the two libraries share, on top of the dispatchers.
Callers pass the object whose library decides first, and call a dispatcher inside their
tasks rather than handing it to Dask as a task's function (a pickled copy would not see
the device side's registrations).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dask.utils import Dispatch

from assay.transforms.key_hash import row_hashes

Frame = Any  # pandas.DataFrame or cudf.DataFrame
Column = Any  # pandas.Series or cudf.Series

FRAMES = (pd.DataFrame, pd.Series, pd.Index)  # the host side's types; frame_cudf has cuDF's
ARRAYS = (np.ndarray,)  # and CuPy's

log = logging.getLogger("assay.backend")

# The steps that leave the GPU for the host on cuDF partitions (docs/gpu.md, "Host fallbacks").
HOST_FALLBACKS = {
    "records_as_json": "the quarantine's _record JSON (rejected rows only)",
    "normalize_unicode": "normalize's unicode: NFC/NFKC/NFD/NFKD (cuDF has no such kernel)",
    "stable_hash_rows": "row_id and sink.split hashes (pandas' hash, so ids and splits "
                        "equal the CPU backend's)",
    "key_hash": "the dedup index's key hash (computed with numpy on the host, so the stored "
                "hash is the CPU backend's)",
    "parse_timestamps": "parse_timestamp and timestamp columns of the schema: values "
                        "not of the canonical ISO 8601 shape, and every strptime format or "
                        "non-UTC zone (pandas' semantics)",
    "write_parquet": "shards when sink.compression_level is set (cuDF's writer has no "
                     "levels) or the device writer fails: encoded by pyarrow on the host",
    "language_id": "language_id's fastText model (no GPU implementation): the text column "
                   "goes to the host, the labels and scores come back",
    "decontaminate": "decontaminate's n-grams (shingles, numpy): the text column goes to "
                     "the host, the reasons come back",
    "pii": "pii's validators (phonenumbers, python-stdnum, ipaddress: Python per candidate)",
    "text_quality": "the quality filters' scores (gopher_quality, gopher_repetition, "
                    "c4_quality, fineweb_quality): the text column is scored on the host",
    "read_csv": "CSV blocks that are not plain (a malformed line, a carriage return, a quote "
                "inside a field, a quoted null marker): parsed by the host reader, which "
                "quarantines each bad line, then copied to the device",
}


@cache
def host_fallback(name: str) -> None:
    """Log, once per process, that a documented host fallback ran on a cuDF partition."""
    log.warning("cuDF backend: host fallback for %s", HOST_FALLBACKS[name])


def _register_device_side() -> None:
    """Import ``frame_cudf``, which registers the cuDF and CuPy sides of every dispatcher
    here (by module name: a stale attribute of the package is never reused)."""
    importlib.import_module("assay.transforms.frame_cudf")


def host_side(types: tuple[type, ...]) -> Callable[[Callable[..., Any]], Dispatch]:
    """Make the decorated function the implementation for ``types`` of a dispatcher of
    its name, whose device side is registered on first sight of a cuDF or CuPy object."""
    def dispatcher(implementation: Callable[..., Any]) -> Dispatch:
        dispatch = Dispatch(implementation.__name__)
        dispatch.register(types, implementation)
        dispatch.register_lazy("cudf", _register_device_side)
        dispatch.register_lazy("cupy", _register_device_side)
        return dispatch
    return dispatcher


# ------------------------------------------------------------------ where the data lives

@host_side(FRAMES)
def library(obj: object) -> Any:
    """The dataframe module (pandas or cudf) that owns ``obj``."""
    return pd


@host_side(FRAMES)
def on_device(obj: object) -> bool:
    """Whether ``obj``'s data is in device memory, so device paths (the CSV gate and
    parser, the Parquet encoder, the device ISO 8601 parser) apply to it."""
    return False


@host_side(FRAMES)
def to_pandas(obj: Any) -> Any:
    """A pandas copy of a cuDF frame or column (the sink writes shards on the host)."""
    return obj


@host_side(FRAMES)
def from_arrow(like: Frame, table: pa.Table, types_mapper: Any = None) -> Frame:
    """A table the host readers parsed, as a frame of ``like``'s library: on cuDF one
    host-to-device copy (nulls kept in every type); on pandas ``types_mapper`` picks the
    nullable dtypes."""
    return table.to_pandas(types_mapper=types_mapper)


@host_side(FRAMES)
def via_host(values: Any, fallback: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(values, *args)`` for a pandas kernel: a cuDF frame or column goes to the
    host and the result comes back, logged as the host fallback ``fallback``."""
    return function(values, *args)


@host_side(FRAMES)
def null_strings(like: Frame) -> Column:
    """A string column of nulls on ``like``'s index (the routing columns of live rows):
    built from Arrow's null array, 5x cheaper than pandas filling one from ``None``."""
    return pd.Series(pd.array(pa.nulls(len(like), pa.large_string()), dtype="str"),
                     index=like.index)


@host_side(FRAMES)
def strings_at(like: Column, values: np.ndarray, index: Any) -> Column:
    """Host strings (an object array, None for null) as a string column of ``like``'s
    library and dtype on ``index``: cuDF refuses an object array holding only None."""
    return pd.Series(values, index=index, dtype=like.dtype)


@host_side(FRAMES)
def arrow_strings(values: Column) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow array behind a column of strings, without a copy, where the host holds
    one (pandas' Arrow-backed strings), for the Arrow fast paths; else None."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        return pa.array(values.array)
    return None


@host_side(FRAMES + ARRAYS)
def array_module(obj: Any) -> Any:
    """numpy or CuPy: the array library of ``obj``'s device (an array from
    ``array_values``, or a frame or column)."""
    return np


@host_side(ARRAYS)
def host_array(values: Any) -> Any:
    """A numpy array of a numpy or CuPy one."""
    return values


@host_side(ARRAYS)
def scatter_min(out: Any, index: Any, values: Any) -> None:
    """``out[i] = min(out[i], v)`` for every ``i``, ``v`` of ``index`` and ``values``, in
    place (repeated indices keep their smallest value)."""
    np.minimum.at(out, index, values)


@host_side(FRAMES)
def array_values(values: Column) -> Any:
    """A non-null column's values as an array of its device: numpy on host, CuPy on GPU."""
    return values.to_numpy()


# ------------------------------------------------------------------- dtypes and nulls

@host_side(FRAMES)
def has_nulls(values: Column) -> bool:
    """Whether a column holds a missing value (cuDF's plain bool columns can; pandas' cannot,
    so they are not scanned: ``as_mask`` asks for every mask)."""
    return values.dtype != bool and bool(values.hasnans)


@host_side(FRAMES)
def host_dtype(values: Column) -> Any:
    """The dtype ``values`` has in pandas (type checks name pandas' dtypes on any backend:
    cuDF's categorical and string dtypes are its own)."""
    return values.dtype


_NULLABLE = {"int64": "Int64", "int32": "Int32", "bool": "boolean"}


@host_side(FRAMES)
def to_nullable(values: Column, type_name: str) -> Column:
    """Cast to the nullable dtype of a spec type (int64, int32 or bool)."""
    return values.astype(_NULLABLE[type_name])


@host_side(FRAMES)
def to_numeric(values: Column) -> Column:
    """Numbers from strings or numbers; unparseable values become null."""
    # nullable result dtypes keep integers beyond 2**53 exact when some values are null
    return pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")


_CONVENTIONAL = {
    "Float64": "float64",
    "Float32": "float32",
    "bool": "boolean",
    "int64": "Int64",
    "int32": "Int32",
}


@host_side(FRAMES)
def conventional(values: Column) -> Column:
    """The dtype the pipeline uses for a computed column: nullable ints and booleans, NaN
    floats (pandas arithmetic mixes them into ``Float64`` and plain ``bool``)."""
    target = _CONVENTIONAL.get(str(values.dtype))
    return values if target is None else values.astype(target)


# ------------------------------------------------------------------------ row kernels

@host_side(FRAMES)
def records_as_json(frame: Frame) -> Column:
    """One JSON object per row (the quarantine's ``_record``), built by the library's C writer."""
    if len(frame) == 0:
        return pd.Series([], dtype="str", index=frame.index)
    utc = [c for c, dtype in frame.dtypes.items()
           if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"]
    if utc:  # pandas' writer makes a Python object of each zoned timestamp
        frame = frame.assign(**{c: _iso_json_text(frame[c]) for c in utc})
    text = frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    lines = text.rstrip("\n").split("\n")
    return pd.Series(lines, index=frame.index, dtype="str")


def _iso_json_text(stamps: pd.Series) -> pd.Series:
    """UTC timestamps as pandas' JSON writer puts them (milliseconds floored, "Z"),
    formatted by Arrow over the whole column (other zones are left to pandas, whose local
    mean times before standard time differ from a plain conversion). Arrow's cast writes
    ``YYYY-MM-DD HH:MM:SS.mmm``, the same digits as its ``strftime`` in a seventh of the
    time (131K values: 22 against 150 ms)."""
    naive = stamps.dt.tz_localize(None).to_numpy()
    millis = pa.array(naive.astype("datetime64[ms]"), from_pandas=True)  # numpy floors
    spaced = pc.replace_substring(pc.cast(millis, pa.string()), " ", "T", max_replacements=1)
    text = pc.binary_join_element_wise(spaced, pa.scalar("Z"), "")
    return pd.Series(text.to_numpy(zero_copy_only=False), index=stamps.index, dtype=object)


@host_side(FRAMES)
def hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    """A uint64 hash of the given columns of each row (all columns when None), equal for
    values equal to ``==``, ``groupby`` and ``duplicated``.

    Each backend uses its own fast hash, so use it where only equality matters (routing a
    shuffle, finding duplicates); values that are stored use ``stable_hash_rows`` or
    ``key_hash``. Here: ``key_hash``'s kernel (numpy over Arrow buffers, 5x pandas' on
    strings) when every column's dtype is one it takes, else pandas' hash; decided by dtype,
    so every partition of a frame hashes alike."""
    names = list(frame.columns) if columns is None else columns
    if all(_kernel_takes(frame[name].dtype) for name in names):
        return key_hash(frame, names)
    return stable_hash_rows(frame, names)


def _kernel_takes(dtype: Any) -> bool:
    """Whether ``key_hash``'s kernel takes every column of ``dtype``, whatever its values."""
    if isinstance(dtype, pd.StringDtype | pd.DatetimeTZDtype):
        return True
    return not isinstance(dtype, pd.ArrowDtype) and dtype.kind in "biufM"


def _canonical_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """-0.0 as 0.0 and every NaN as the one NaN, so values equal for ``==``, ``groupby`` and
    ``duplicated`` hash equal (pandas hashes float bits; cuDF's xxhash64 already does this)."""
    floats = [c for c, dtype in frame.dtypes.items() if pd.api.types.is_float_dtype(dtype)]
    if not floats:
        return frame
    out = frame.copy(deep=False)
    for column in floats:
        out[column] = frame[column].where(frame[column].notna()) + 0.0
    return out


@host_side(FRAMES)
def stable_hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    """pandas' ``hash_pandas_object`` of the given columns (all when None), floats made
    canonical as for ``hash_rows``, on either backend: row ids and split assignments are
    stored, so they must not depend on the backend that computed them."""
    subset = frame if columns is None else frame[columns]
    return pd.util.hash_pandas_object(
        _canonical_floats(subset), index=False, categorize=False
    ).astype("uint64")


@host_side(FRAMES)
def key_hash(frame: Frame, columns: list[str]) -> Column:
    """The dedup index's stored hash of ``columns`` (``assay.transforms.key_hash``): defined
    on the values, so the same on every backend and library version."""
    arrays = {}
    for name in columns:
        try:
            arrays[name] = pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TypeError(f"column {name!r}: no stable key hash for its values ({exc})"
                            ) from exc
    return pd.Series(row_hashes(arrays, len(frame)), index=frame.index)


@host_side(FRAMES)
def as_int64(hashes: Column) -> Column:
    """Reinterpret uint64 hashes as int64 (same bits), for columns readers expect signed."""
    return pd.Series(hashes.to_numpy().view("int64"), index=hashes.index)


# ---------------------------------------------------------------------- string kernels

@host_side(FRAMES)
def normalize_unicode(values: Column, form: str) -> Column:
    """Unicode normal form ``form`` (NFC, NFKC, NFD, NFKD) of each string."""
    return values.str.normalize(form)


@host_side(FRAMES)
def fullmatch(values: Column, pattern: str) -> Column:
    """Whether each string matches ``pattern`` as a whole."""
    return values.str.fullmatch(pattern)


@host_side(FRAMES)
def regex_replace(values: Column, pattern: str, replacement: str) -> Column:
    """Replace every match of ``pattern``; ``replacement`` may use back-references (\\1)."""
    return values.str.replace(pattern, replacement, regex=True)


@host_side(FRAMES)
def replace_where(values: Column, where: Column, other: Column) -> Column:
    """``values`` with the rows ``where`` taken from ``other``, a column of those rows
    only, matched by index label.

    Written at those positions in one Arrow (or numpy) pass rather than by ``Series.mask``,
    which first aligns ``other`` to every row: a take over the whole column for the few rows
    that change."""
    rows = where.to_numpy(dtype=bool)
    at = values.index[rows]
    if not other.index.equals(at):
        other = other.reindex(at)
    if other.dtype != values.dtype and is_string_like(values) and is_string_like(other):
        other = other.astype(values.dtype)  # as mask does: the column keeps its dtype
    if other.dtype != values.dtype:  # mask finds the common dtype
        return values.mask(where, other.reindex(values.index))
    if isinstance(values.array, pd.arrays.ArrowExtensionArray):
        merged = pc.replace_with_mask(pa.array(values.array), pa.array(rows),
                                      pa.array(other.array))
        array = pd.array(merged, dtype=values.dtype)
    else:
        array = values.array.copy()
        array[rows] = other.array
    # the dtype stated: pandas would infer ``str`` for an object array of strings
    return pd.Series(array, index=values.index, name=values.name, dtype=values.dtype,
                     copy=False)


# --------------------------------------------- helpers on the API the two libraries share

def backend_name(obj: object) -> str:
    """``pandas`` or ``cudf``: the library that owns ``obj``."""
    return library(obj).__name__


def frame_to_backend(frame: pd.DataFrame, backend: str) -> Frame:
    """A pandas frame (a graph's meta) as a frame of the backend named ``backend`` (by
    name: no object of that backend exists yet to dispatch on)."""
    if backend == "cudf":
        import cudf

        return cudf.from_pandas(frame)
    return frame


def to_host(values: Column) -> Any:
    """A column's values as a host numpy array (objects for strings, nulls as None)."""
    return to_pandas(values).to_numpy(dtype=object, na_value=None)


def host_numbers(values: Column) -> np.ndarray:
    """A non-null numeric column as a host numpy array of its own dtype (``to_host`` gives
    Python objects, which numpy and Arrow then handle one at a time)."""
    return host_array(array_values(values))


def bytes_array(data: bytes, like: Frame) -> Any:
    """``data`` as a uint8 array on ``like``'s device: a numpy view, or a CuPy copy."""
    return array_module(like).asarray(np.frombuffer(data, dtype=np.uint8))


def is_string_like(values: Column) -> bool:
    kind = str(values.dtype)
    return kind in ("str", "string", "object") or kind.startswith("string")


def as_string(values: Column) -> Column:
    """The library's string dtype, nulls kept as nulls."""
    return values if str(values.dtype) == "str" else values.astype("str")


def broadcast(value: Any, like: Column) -> Column:
    """A column holding ``value`` on every row of ``like`` (same index)."""
    lib = library(like)
    if isinstance(value, str):
        return lib.Series(value, index=like.index, dtype="str")
    if value is None:
        return lib.Series(None, index=like.index, dtype="float64")
    return lib.Series(value, index=like.index)
