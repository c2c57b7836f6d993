"""Reading a sample of one upload and typing its columns as a pipeline's schema would.

JSON Lines and Parquet uploads are read here; a CSV upload, and any upload drafted with a
spec, is read by the engine itself (``assay.pipelines.draft_sample``), so the draft reads
what ``assay run`` reads. Values that arrive as strings (CSV, or JSON strings) are typed: a
column whose values (all but at most 1%) convert to int64, float64 or an ISO 8601
timestamp is typed so, with the engine's own converters (``assay.transforms.casting``), and
the values that do not convert become null (the engine would quarantine their rows when the
schema declares that type). Malformed JSON lines are skipped: a draft describes the good
rows. A frame a spec's steps produced keeps its declared types (``declared``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from assay.transforms.casting import cast_column

COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2",
                ".xz": "xz"}
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
PARSE_SHARE = 0.99  # share of non-null strings that must convert for a typed column
_READ_ERRORS = (OSError, ValueError, EOFError, pa.ArrowException, zstandard.ZstdError)


class DraftError(Exception):
    """The upload cannot be read at all; one line naming the file and the problem."""


@dataclass
class Sample:
    frame: pd.DataFrame
    types: dict[str, str]  # column -> spec type (string, int64, float64, bool, timestamp, other)
    whole: bool  # the sample is the whole upload


def detect(path: str) -> tuple[str, str | None]:
    """(format, compression) from the file name's extensions, as ``source.format: auto``."""
    lower, compression = path.lower(), None
    for ext, codec in COMPRESSIONS.items():
        if lower.endswith(ext):
            compression, lower = codec, lower[: -len(ext)]
            break
    fmt = next((f for ext, f in FORMATS.items() if lower.endswith(ext)), None)
    if fmt is None:
        raise DraftError(f"{path}: unknown format (expected .csv, .tsv, .jsonl, .json, "
                         ".parquet, optionally .gz/.zst/.bz2/.xz)")
    return fmt, compression


def read_sample(path: str, rows: int) -> Sample:
    """The first ``rows`` good rows of a JSON Lines or Parquet upload, typed; DraftError
    when unreadable."""
    fmt, compression = detect(path)
    if fmt not in _READERS:
        raise ValueError(f"{path}: {fmt} uploads are read by the engine (draft_sample)")
    try:
        with fsspec.open(path, "rb", compression=compression) as handle:
            frame, whole = _READERS[fmt](handle, rows)
    except DraftError:
        raise
    except FileNotFoundError:
        raise DraftError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DraftError(f"{path}: not UTF-8 text: {exc.reason}") from None
    except _READ_ERRORS as exc:
        raise DraftError(f"{path}: cannot read as {fmt}: {_first_line(exc)}") from exc
    if len(frame) == 0:
        raise DraftError(f"{path}: no data rows")
    return _typed(frame, whole)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_jsonl(handle, rows: int) -> tuple[pd.DataFrame, bool]:
    records, whole = [], True
    for raw in handle:
        if len(records) == rows:
            whole = False
            break
        line = raw.decode("utf-8").strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the engine quarantines it; the draft describes the good lines
        if isinstance(record, dict):
            records.append(record)
    return pd.DataFrame.from_records(records), whole


def _read_parquet(handle, rows: int) -> tuple[pd.DataFrame, bool]:
    parquet = pq.ParquetFile(handle)
    batch = next(parquet.iter_batches(batch_size=rows), None)
    if batch is None:
        return parquet.schema_arrow.empty_table().to_pandas(), True
    return pa.Table.from_batches([batch]).to_pandas(), parquet.metadata.num_rows <= rows


_READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet}


def _typed(frame: pd.DataFrame, whole: bool) -> Sample:
    columns, types = {}, {}
    for name in frame.columns:
        types[str(name)], columns[str(name)] = infer(frame[name])
    return Sample(pd.DataFrame(columns, index=frame.index), types, whole)


def from_strings(frame: pd.DataFrame, whole: bool) -> Sample:
    """A sample of string columns (a CSV read by the engine with no spec), typed by value."""
    return _typed(frame, whole)


def declared(frame: pd.DataFrame, whole: bool) -> Sample:
    """A sample whose columns carry the types a spec gave them: kept, never re-inferred
    (a string column of digits stays a string)."""
    types = {str(name): dtype_kind(frame[name]) or "string" for name in frame.columns}
    return Sample(frame, types, whole)


def dtype_kind(values: pd.Series) -> str | None:
    """The spec type a column's dtype says (None for strings and objects)."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    kind = values.dtype.kind
    if kind in "iu":
        return "int64"
    if kind == "f":
        return "float64"
    if kind == "M":
        return "timestamp"
    return None


def infer(values: pd.Series) -> tuple[str, pd.Series]:
    """The column's spec type and its values in that type (see the module docstring)."""
    if (kind := dtype_kind(values)) is not None:
        return kind, values
    present = values.dropna()
    inferred = pd.api.types.infer_dtype(present, skipna=True)
    if inferred == "boolean":  # JSON booleans with nulls
        return "bool", values.astype("boolean")
    if inferred not in ("string", "empty"):
        return "other", values  # nested JSON values, bytes: only existence and nulls
    if len(present) == 0:
        return "string", cast_column(values, "string").values
    for type_name in ("int64", "float64", "timestamp"):
        cast = cast_column(values, type_name)
        if int(cast.failed.sum()) <= (1 - PARSE_SHARE) * len(present):
            return type_name, cast.values
    return "string", cast_column(values, "string").values
