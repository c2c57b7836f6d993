"""The backend seam: the only module that knows whether a partition is pandas or cuDF.

Everything else codes against the API the two libraries share. Where they differ (row
hashing, Unicode normalisation, record serialisation, ...), the function here holds both
implementations side by side, picking by the type of the object it is given.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Frame = Any  # pandas.DataFrame or cudf.DataFrame
Column = Any  # pandas.Series or cudf.Series

log = logging.getLogger("assay.backend")

# The steps that leave the GPU for the host on cuDF partitions (README, "Host fallbacks").
HOST_FALLBACKS = {
    "records_as_json": "the quarantine's _record JSON (rejected rows only)",
    "normalize_unicode": "normalize's unicode: NFC/NFKC/NFD/NFKD (cuDF has no such kernel)",
    "stable_hash_rows": "row_id and sink.split hashes (pandas' hash, so ids and splits "
                        "equal the CPU backend's)",
    "parse_timestamps": "parse_timestamp and timestamp columns of the schema: values "
                        "not of the canonical ISO 8601 shape, and every strptime format or "
                        "non-UTC zone (pandas' semantics)",
    "write_parquet": "shards when sink.compression_level is set (cuDF's writer has no "
                     "levels) or the device writer fails: encoded by pyarrow on the host",
    "read_csv": "CSV blocks that are not plain (a malformed line, a carriage return, a quote "
                "inside a field, a quoted null marker): parsed by the host reader, which "
                "quarantines each bad line, then copied to the device",
}


@cache
def host_fallback(name: str) -> None:
    """Log, once per process, that a documented host fallback ran on a cuDF partition."""
    log.warning("cuDF backend: host fallback for %s", HOST_FALLBACKS[name])


def _via_host(name: str, function: Any, values: Any, *args: Any) -> Any:
    """``function`` (a pandas implementation here) applied to a cuDF frame or column on the
    host, the result moved back to the device; logged as the host fallback ``name``."""
    host_fallback(name)
    return library(values).from_pandas(function(values.to_pandas(), *args))


def is_cudf(obj: object) -> bool:
    """True for cuDF objects, without importing cuDF on CPU machines."""
    return type(obj).__module__.startswith("cudf")


def backend_name(obj: object) -> str:
    return "cudf" if is_cudf(obj) else "pandas"


def library(obj: object):
    """The dataframe module (pandas or cudf) that owns ``obj``."""
    if is_cudf(obj):
        import cudf

        return cudf
    return pd


def to_pandas(obj: Any) -> Any:
    """A pandas copy of a cuDF frame or column (the sink writes shards on the host)."""
    return obj.to_pandas() if is_cudf(obj) else obj


def frame_to_backend(frame: pd.DataFrame, backend: str) -> Frame:
    """A pandas frame (a graph's meta) as a frame of ``backend``."""
    if backend == "cudf":
        import cudf

        return cudf.from_pandas(frame)
    return frame


def from_arrow(table: pa.Table, like: Frame, types_mapper: Any = None) -> Frame:
    """A table the host readers parsed, as a frame of ``like``'s library: on cuDF one
    host-to-device copy (nulls kept in every type); on pandas ``types_mapper`` picks the
    nullable dtypes."""
    if is_cudf(like):
        import cudf

        return cudf.DataFrame.from_arrow(table)
    return table.to_pandas(types_mapper=types_mapper)


def has_nulls(values: Column) -> bool:
    """Whether a column holds a missing value (cuDF's plain bool columns can; pandas' cannot)."""
    return bool(values.has_nulls) if is_cudf(values) else bool(values.hasnans)


def host_dtype(values: Column) -> Any:
    """The dtype ``values`` has in pandas (type checks name pandas' dtypes on any backend:
    cuDF's categorical and string dtypes are its own)."""
    return values.iloc[:0].to_pandas().dtype if is_cudf(values) else values.dtype


def to_host(values: Column) -> Any:
    """A column's values as a host numpy array (objects for strings, nulls as None)."""
    if is_cudf(values):
        values = values.to_pandas()
    return values.to_numpy(dtype=object, na_value=None)


def records_as_json(frame: Frame) -> Column:
    """One JSON object per row (the quarantine's ``_record``), built by the library's C writer."""
    if len(frame) == 0:
        return library(frame).Series([], dtype="str", index=frame.index)
    if is_cudf(frame):
        host_fallback("records_as_json")
        frame = frame.to_pandas()  # quarantine-only path: rejected rows are few
    text = frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    lines = text.rstrip("\n").split("\n")
    return pd.Series(lines, index=frame.index, dtype="str")


def hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    """A stable uint64 hash of the given columns of each row (all columns when None).

    Each backend uses its own fast hash, so use it where only equality matters (routing a
    shuffle, finding duplicates); values that are stored use ``stable_hash_rows``."""
    subset = frame if columns is None else frame[columns]
    if is_cudf(subset):
        return subset.hash_values(method="xxhash64")
    return pd.util.hash_pandas_object(
        _canonical_floats(subset), index=False, categorize=False
    ).astype("uint64")


def stable_hash_rows(frame: Frame, columns: list[str] | None = None) -> Column:
    """``hash_rows`` as pandas computes it, on either backend: ids and split assignments
    are stored, so they must not depend on the backend that computed them. cuDF has no
    kernel for pandas' hash, so its partitions hash on the host (logged)."""
    if is_cudf(frame):
        return _via_host("stable_hash_rows", hash_rows, frame, columns)
    return hash_rows(frame, columns)


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


def array_values(values: Column) -> Any:
    """A non-null column's values as an array of its device: numpy on host, CuPy on GPU."""
    return values.values if is_cudf(values) else values.to_numpy()


def bytes_array(data: bytes, like: Frame) -> Any:
    """``data`` as a uint8 array on ``like``'s device: a numpy view, or a CuPy copy."""
    import numpy

    view = numpy.frombuffer(data, dtype=numpy.uint8)
    if is_cudf(like):
        import cupy

        return cupy.asarray(view)
    return view


def _on_device(values: Any) -> bool:
    return type(values).__module__.startswith("cupy")


def host_array(values: Any) -> Any:
    """A numpy array of a numpy or CuPy one."""
    return values.get() if _on_device(values) else values


def array_module(values: Any) -> Any:
    """numpy or CuPy, whichever owns ``values`` (an array from ``array_values``)."""
    if _on_device(values):
        import cupy

        return cupy
    import numpy

    return numpy


_NULLABLE = {"int64": "Int64", "int32": "Int32", "bool": "boolean"}


def to_nullable(values: Column, type_name: str) -> Column:
    """Cast to the nullable dtype of a spec type (cuDF's own dtypes are all nullable)."""
    if is_cudf(values):
        return values.astype({"int64": "int64", "int32": "int32", "bool": "bool"}[type_name])
    return values.astype(_NULLABLE[type_name])


def to_numeric(values: Column) -> Column:
    """Numbers from strings or numbers; unparseable values become null."""
    if is_cudf(values):
        return library(values).to_numeric(values, errors="coerce")
    # nullable result dtypes keep integers beyond 2**53 exact when some values are null
    return pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")


def is_string_like(values: Column) -> bool:
    kind = str(values.dtype)
    return kind in ("str", "string", "object") or kind.startswith("string")


def as_string(values: Column) -> Column:
    """The library's string dtype, nulls kept as nulls."""
    return values if str(values.dtype) == "str" else values.astype("str")


_ARROW_TYPES = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
                "float32": pa.float32()}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}
# The one ISO 8601 shape uploads mostly use; anything else goes to pandas' general parser.
# (offsets below 24 hours: pandas refuses larger ones, Arrow's %z reads them)
_CANONICAL_ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$"


def strict_cast(values: Column, type_name: str) -> Column | None:
    """A string column cast in one C++ pass, or None when any value does not convert.

    The fast path for clean columns: Arrow's parser is stricter than the general one (no
    surrounding spaces, no ``+``), so when it succeeds the result is the same, and when it
    fails the caller falls back to the per-value path that finds the bad values.
    """
    if is_cudf(values) or not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    try:
        cast = pc.cast(pa.array(values.array), _ARROW_TYPES[type_name])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = cast.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return out.set_axis(values.index).rename(values.name)


def _digits(arrow: pa.Array, start: int, stop: int) -> pa.Array:
    return pc.cast(pc.utf8_slice_codeunits(arrow, start, stop), pa.int64())


def _canonical_iso_utc(values: Column) -> tuple[Column, Column]:
    """Arrow-parsed timestamps for values of the canonical shape, and a mask of the values
    left for the general parser. Arrow's strptime rolls impossible dates over (Feb 30 becomes
    Mar 1) where pandas says null, so a value is kept only when its parsed day and second
    equal the digits written in it."""
    arrow = pa.array(values.array)
    shaped = pc.fill_null(pc.match_substring_regex(arrow, _CANONICAL_ISO), False)
    candidates = pc.if_else(shaped, arrow, pa.scalar(None, arrow.type))
    local = pc.strptime(pc.utf8_slice_codeunits(candidates, 0, 19),
                        format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    exact = pc.and_(pc.equal(pc.day(local), _digits(candidates, 8, 10)),
                    pc.equal(pc.second(local), _digits(candidates, 17, 19)))
    parsed = pc.strptime(candidates, format="%Y-%m-%dT%H:%M:%S%z", unit="us",
                         error_is_null=True)
    parsed = pc.if_else(pc.fill_null(exact, False), parsed, pa.scalar(None, parsed.type))
    stamps = parsed.to_pandas().set_axis(values.index).dt.tz_convert("UTC")
    leftover = values.notna() & stamps.isna()
    return stamps.dt.as_unit("us"), leftover


_ISO_FIELDS = (("year", 0, 4), ("month", 5, 7), ("day", 8, 10), ("hour", 11, 13),
               ("minute", 14, 16), ("second", 17, 19))


def _number(values: Column) -> Column:
    return library(values).to_numeric(values, errors="coerce")


def canonical_iso_utc_shared(values: Column) -> tuple[Column, Column]:
    """``_canonical_iso_utc`` in the column API pandas and cuDF share, so it runs on the
    device: a value of the canonical shape is kept only when every field of its parse equals
    the digits written in it (whatever a library does with Feb 30 or minute 61, the fields
    would differ), then its offset is subtracted."""
    lib = library(values)
    shaped = values.str.match(_CANONICAL_ISO).fillna(False).astype("bool")
    candidates = values.where(shaped)
    local = lib.to_datetime(candidates.str.slice(0, 19), format="%Y-%m-%dT%H:%M:%S",
                            errors="coerce").astype("datetime64[us]")
    exact = shaped
    for field, start, stop in _ISO_FIELDS:
        exact = exact & (getattr(local.dt, field) == _number(candidates.str.slice(start, stop)))
    exact = exact.fillna(False).astype("bool")
    zone = candidates.str.slice(19).str.replace("Z", "+0000", regex=False)
    zone = zone.str.replace(":", "", regex=False)
    minutes = (_number(zone.str.slice(1, 3)) * 60 + _number(zone.str.slice(3, 5))).fillna(0)
    sign = 1 - 2 * zone.str.startswith("-").fillna(False).astype("int64")
    offset = (minutes.astype("int64") * sign * 60_000_000).astype("timedelta64[us]")
    stamps = (local - offset).where(exact).dt.tz_localize("UTC")
    return stamps, values.notna() & ~exact


def _iso_utc(values: Column) -> Column:
    """ISO 8601 in UTC: the canonical shape by the fast parser of the values' library (Arrow
    on the host, cuDF's kernels on the device), the rest by pandas' general parser (on the
    host: on cuDF only for those values, logged)."""
    if is_cudf(values):
        try:
            stamps, leftover = canonical_iso_utc_shared(values)
        except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
            # a cuDF release without one of the shared calls: exact answers on the host
            log.warning("cuDF backend: device ISO 8601 parser unavailable (%s)", exc)
            return _via_host("parse_timestamps", parse_timestamps, values, "ISO8601", "UTC")
    else:
        stamps, leftover = _canonical_iso_utc(values)
    if not leftover.any():
        return stamps
    rest = values[leftover]
    if is_cudf(values):
        rest = _via_host("parse_timestamps", parse_timestamps, rest, "ISO8601", "UTC")
        rest = rest.reindex(values.index)  # cuDF's where does not align indexes
    else:
        rest = pd.to_datetime(rest, format="ISO8601", errors="coerce", utc=True).dt.as_unit("us")
    return stamps.where(~leftover, rest)


def parse_timestamps(values: Column, format: str, timezone: str) -> Column:
    """UTC timestamps (microseconds) from strings; unparseable values become null.

    Naive values are read in ``timezone``; values with an offset are converted to UTC.
    """
    if format.upper() == "ISO8601":
        format = "ISO8601"
    fast = format == "ISO8601" and timezone.upper() == "UTC" and (
        is_cudf(values) or isinstance(values.array, pd.arrays.ArrowStringArray))
    if fast:
        return _iso_utc(values)
    if is_cudf(values):
        return _via_host("parse_timestamps", parse_timestamps, values, format, timezone)
    lib = library(values)
    if timezone.upper() == "UTC":
        parsed = lib.to_datetime(values, format=format, errors="coerce", utc=True)
    else:
        parsed = lib.to_datetime(values, format=format, errors="coerce")
        parsed = (
            parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            if parsed.dt.tz is None
            else parsed
        ).dt.tz_convert("UTC")
    return parsed.dt.as_unit("us") if hasattr(parsed.dt, "as_unit") else parsed


def as_int64(hashes: Column) -> Column:
    """Reinterpret uint64 hashes as int64 (same bits), for columns readers expect signed."""
    if is_cudf(hashes):
        return hashes.astype("int64")  # libcudf casts integers by bit pattern (wraps)
    return pd.Series(hashes.to_numpy().view("int64"), index=hashes.index)


def normalize_unicode(values: Column, form: str) -> Column:
    """Unicode normal form ``form`` (NFC, NFKC, NFD, NFKD) of each string."""
    if is_cudf(values):
        # cuDF has no NFC/NFKC kernels: normalise on the host and move back. Slower, but
        # exact, and only paid by specs that ask for a normal form.
        return _via_host("normalize_unicode", normalize_unicode, values, form)
    return values.str.normalize(form)


def fullmatch(values: Column, pattern: str) -> Column:
    """Whether each string matches ``pattern`` as a whole (cuDF has only ``match``, which
    anchors at the start: the end is anchored by the pattern)."""
    if is_cudf(values):
        return values.str.match(f"(?:{pattern})$")
    return values.str.fullmatch(pattern)


def regex_replace(values: Column, pattern: str, replacement: str) -> Column:
    """Replace every match of ``pattern``; ``replacement`` may use back-references (\\1)."""
    if is_cudf(values) and "\\" in replacement:
        return values.str.replace_with_backrefs(pattern, replacement)  # str.replace has none
    return values.str.replace(pattern, replacement, regex=True)


def replace_rows(values: Column, where: Column, new: Any, at: Any) -> Column:
    """``values`` (strings) with the rows ``where`` replaced by ``new``: host values of those
    rows, in order, whose index labels are ``at``."""
    other = library(values).Series(new, index=at, dtype="str")
    if is_cudf(values):
        other = other.reindex(values.index)  # cuDF's mask does not align indexes
    return values.mask(where, other)


def broadcast(value: Any, like: Column) -> Column:
    """A column holding ``value`` on every row of ``like`` (same index)."""
    lib = library(like)
    if isinstance(value, str):
        return lib.Series(value, index=like.index, dtype="str")
    if value is None:
        return lib.Series(None, index=like.index, dtype="float64")
    return lib.Series(value, index=like.index)


def scalar_for(values: Column, value: Any) -> Any:
    """A spec value (YAML scalar) in a form comparable with ``values``: timestamps from
    strings or numbers are read as UTC, everything else is passed through."""
    if value is None or not str(values.dtype).startswith("datetime64"):
        return value
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


_CONVENTIONAL = {
    "Float64": "float64",
    "Float32": "float32",
    "bool": "boolean",
    "int64": "Int64",
    "int32": "Int32",
}


def conventional(values: Column) -> Column:
    """The dtype the pipeline uses for a computed column: nullable ints and booleans, NaN
    floats (pandas arithmetic mixes them into ``Float64`` and plain ``bool``)."""
    if is_cudf(values):
        return values  # cuDF dtypes are all nullable already
    target = _CONVENTIONAL.get(str(values.dtype))
    return values if target is None else values.astype(target)
