"""The ``decontaminate`` step: remove documents that share word n-grams (13 by default, as
GPT-3's and datatrove's decontamination) with evaluation sets named in the spec, so a
model is not trained on the benchmarks it will be scored on.

Documents and evaluation records are cut into n-grams by ``shingles`` (lowercased words,
punctuation and line breaks ignored), so a quote that was re-wrapped, re-cased or
re-punctuated still matches. An evaluation set is a JSONL or Parquet file, optionally
compressed, local or at an fsspec URL; each record's listed fields are joined, in order,
into one text, so n-grams that span a prompt and its answer count too. Its n-gram hashes
are built once per process and content (``_eval_ngrams``, keyed by the file's location and
the sha256 of its bytes, read when the spec loads) and are small: eight bytes an n-gram,
plus a bit table that lets most of a document's n-grams be ruled out by one array lookup
before the exact sorted search.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.utils import infer_compression
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP, PartitionStep, StepResult, register
from assay.transforms.frame import Frame
from assay.transforms.params import (
    Action,
    ColumnList,
    ColumnName,
    fate_of,
    require_columns,
    string_column,
)
from assay.transforms.shingles import Shingles, shingle_hashes

_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet",
            ".pq": "parquet"}
_FILTER_BITS = 4  # bits of the prefilter table per n-gram: about 1 in 16 passes it falsely


class EvalSet(BaseModel):
    """One evaluation set: its name (in reasons), its file and the fields that hold its
    text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description=(
        "The set's name, as removed documents' reasons give it."), examples=["humaneval"])
    path: str = Field(min_length=1, description=(
        "A JSONL (`.jsonl .ndjson .json`) or Parquet (`.parquet .pq`) file, optionally "
        "`.gz .zst .bz2 .xz` compressed, local or an fsspec URL; a relative path resolves "
        "against the spec file's folder. Read when the spec loads."),
        examples=["evals/HumanEval.jsonl.gz", "s3://evals/mmlu/test.parquet"])
    columns: ColumnList = Field(description=(
        "The fields whose text gives the n-grams; one record's fields are joined in this "
        "order, so n-grams spanning them count too. Each must be a string (or null) in "
        "every record."), examples=[["prompt", "canonical_solution"], ["question"]])


@dataclass(frozen=True)
class EvalIndex:
    """An evaluation set's distinct n-gram hashes, sorted, and a bit table over their top
    bits that rules most other hashes out with one lookup."""

    hashes: np.ndarray  # uint64, sorted, distinct
    table: np.ndarray  # bool, 2**bits entries
    bits: int

    @classmethod
    def of(cls, hashes: np.ndarray) -> EvalIndex:
        distinct = np.unique(hashes)
        bits = max(int(np.ceil(np.log2(max(len(distinct), 1) * 2**_FILTER_BITS))), 8)
        table = np.zeros(2**bits, dtype=bool)
        table[distinct >> np.uint64(64 - bits)] = True
        return cls(distinct, table, bits)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Whether each of ``hashes`` is one of the set's n-grams."""
        found = self.table[hashes >> np.uint64(64 - self.bits)]
        candidates = np.flatnonzero(found)
        probe = hashes[candidates]
        at = np.minimum(np.searchsorted(self.hashes, probe), len(self.hashes) - 1)
        found[candidates] = self.hashes[at] == probe
        return found


class EvalSetError(ValueError):
    """An evaluation set that cannot be used: the message names the file and the line or
    field."""


def _read(location: str) -> bytes:
    try:
        with fsspec.open(location, "rb") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:
        raise EvalSetError(f"{location}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                           ) from None


def _format(location: str) -> str:
    compression = infer_compression(location)
    stem = location.rsplit(".", 1)[0] if compression else location
    suffix = "." + stem.rsplit(".", 1)[-1].lower() if "." in stem else ""
    if suffix not in _FORMATS:
        raise EvalSetError(f"{location}: not a JSONL or Parquet file (the name ends in "
                           f"{suffix or 'no extension'}; use {', '.join(_FORMATS)})")
    return _FORMATS[suffix]


def _decompressed(location: str, raw: bytes) -> bytes:
    compression = infer_compression(location)
    if compression is None:
        return raw
    try:
        with fsspec.compression.compr[compression](io.BytesIO(raw)) as handle:
            return handle.read()
    except Exception as exc:  # each codec raises its own error type
        raise EvalSetError(f"{location}: not a valid {compression} file: {exc}") from None


def _jsonl_texts(location: str, data: bytes, columns: list[str]) -> list[str]:
    """Each record's fields joined. One ``json.loads`` per line: evaluation sets are small,
    and the line of a bad record is then known exactly."""
    texts = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EvalSetError(f"{location}: line {number}: invalid JSON: "
                               f"{getattr(exc, 'msg', exc)}") from None
        if not isinstance(record, dict):
            raise EvalSetError(f"{location}: line {number}: not a JSON object")
        texts.append(_joined(record, columns, f"{location}: line {number}"))
    return texts


def _parquet_texts(location: str, data: bytes, columns: list[str]) -> list[str]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except pa.ArrowException as exc:
        raise EvalSetError(f"{location}: not a valid Parquet file: {exc}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise EvalSetError(f"{location}: no column(s) {missing} (it has "
                           f"{', '.join(table.column_names)})")
    return [_joined(record, columns, f"{location}: row {row}")
            for row, record in enumerate(table.select(columns).to_pylist())]


def _joined(record: dict[str, Any], columns: list[str], where: str) -> str:
    parts = []
    for column in columns:
        if column not in record:
            raise EvalSetError(f"{where}: no field {column!r} (it has "
                               f"{', '.join(map(repr, record)) or 'none'})")
        value = record[column]
        if value is not None and not isinstance(value, str):
            raise EvalSetError(f"{where}: field {column!r} is {type(value).__name__}, "
                               "not a string")
        parts.append(value or "")
    return "\n".join(parts)


def content_digest(location: str) -> str:
    """The sha256 of a file's bytes (what the cache of its n-grams is keyed by)."""
    return hashlib.sha256(_read(location)).hexdigest()


@lru_cache(maxsize=32)
def _eval_ngrams(location: str, digest: str, columns: tuple[str, ...], ngram: int
                 ) -> EvalIndex:
    """The evaluation set's n-gram index, built once per process for one content."""
    raw = _read(location)
    if hashlib.sha256(raw).hexdigest() != digest:
        raise EvalSetError(f"{location}: changed since the spec was loaded; load it again")
    reader = _jsonl_texts if _format(location) == "jsonl" else _parquet_texts
    texts = reader(location, _decompressed(location, raw), list(columns))
    if not texts:
        raise EvalSetError(f"{location}: no records")
    shingles = shingle_hashes(pa.array(texts, pa.large_string()), "word", ngram)
    if len(shingles.hashes) == 0:
        raise EvalSetError(f"{location}: no words in {', '.join(columns)}")
    return EvalIndex.of(shingles.hashes)


def shared_counts(shingles: Shingles, index: EvalIndex) -> np.ndarray:
    """How many distinct n-grams each document shares with the set."""
    hits = np.flatnonzero(index.contains(shingles.hashes))
    documents = np.searchsorted(shingles.offsets, hits, side="right") - 1
    pairs = np.unique(np.stack([documents, shingles.hashes[hits].view(np.int64)]), axis=1)
    return np.bincount(pairs[0], minlength=len(shingles.offsets) - 1)


@register
class Decontaminate(PartitionStep):
    """Remove documents that share word n-grams with evaluation sets (benchmarks), each
    removal's reason naming the set and how many n-grams it shares:
    `decontaminate: shares 3 13-grams with humaneval`. Words are compared lowercased, with
    punctuation and line breaks ignored; a record shorter than `ngram` words matches only a
    document that is all of it."""

    op: Literal["decontaminate"] = "decontaminate"
    heap_temporaries: ClassVar[bool] = True
    column: ColumnName = Field(description="The text column to check.", examples=["text"])
    ngram: int = Field(13, ge=1, description=(
        "Words per n-gram (13, as GPT-3's and datatrove's decontamination)."),
        examples=[8])
    eval_sets: list[EvalSet] = Field(min_length=1, description=(
        "The evaluation sets to keep out of the data."), examples=[[{
            "name": "humaneval", "path": "evals/HumanEval.jsonl.gz",
            "columns": ["prompt", "canonical_solution"]}]])
    min_shared: int = Field(1, ge=1, description=(
        "Remove a document that shares at least this many distinct n-grams with one set."),
        examples=[3])
    action: Action = Field("drop", description=(
        "Removed documents are `drop`ped (counted by the step) or sent to the quarantine."),
        examples=["quarantine"])

    # (location, sha256) of each set, found when the spec loads (see bind_files)
    _sources: tuple[tuple[str, str], ...] | None = PrivateAttr(None)

    @field_validator("eval_sets")
    @classmethod
    def _distinct_names(cls, sets: list[EvalSet]) -> list[EvalSet]:
        names = [s.name for s in sets]
        if len(set(names)) < len(names):
            raise ValueError(f"eval set names must be distinct, got {names}")
        return sets

    def bind_files(self, resolve: Callable[[str], str]) -> None:
        """Find each set's file (``resolve``: against the spec's folder), hash its bytes and
        build its n-grams now, so a bad set fails the spec and the run reads no other
        content than the one checked."""
        sources = []
        for i, eval_set in enumerate(self.eval_sets):
            location = resolve(eval_set.path)
            try:
                digest = content_digest(location)
                _eval_ngrams(location, digest, tuple(eval_set.columns), self.ngram)
            except EvalSetError as exc:
                raise EvalSetError(f"eval_sets[{i}] ({eval_set.name}): {exc}") from None
            sources.append((location, digest))
        self._sources = tuple(sources)

    def bound_files(self) -> list[dict[str, str]]:
        return [{"name": eval_set.name, "path": location, "sha256": digest}
                for eval_set, (location, digest) in zip(self.eval_sets, self._sources or (),
                                                        strict=False)]

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        texts = string_column(frame, self.column, self.label)
        if len(frame) == 0:
            return StepResult(frame)
        if self._sources is None:  # built in Python, not loaded from a spec
            self.bind_files(lambda path: path)
        # GPU session to check: the reasons come back on the partition's index
        # (tests/gpu/parity.py's case); a device path would need cuDF kernels that hash
        # words exactly as shingles.py defines them
        reasons = fr.via_host(texts, "decontaminate", self._reasons)
        return StepResult(frame, reasons.notna(), reasons, fate_of(self.action))

    def _reasons(self, texts: pd.Series) -> pd.Series:
        """On the host: why each document is removed (null: kept)."""
        shingles = shingle_hashes(pa.array(texts, pa.large_string(), from_pandas=True),
                                  "word", self.ngram)
        reasons = np.full(len(texts), None, dtype=object)
        for eval_set, (location, digest) in zip(self.eval_sets, self._sources, strict=True):
            index = _eval_ngrams(location, digest, tuple(eval_set.columns), self.ngram)
            counts = shared_counts(shingles, index)
            for row in np.flatnonzero(counts >= self.min_shared):  # the removed documents
                grams = "gram" if counts[row] == 1 else "grams"
                reason = (f"{self.label}: shares {counts[row]} {self.ngram}-{grams} with "
                          f"{eval_set.name}")
                reasons[row] = reason if reasons[row] is None else reasons[row] + REASON_SEP \
                    + reason
        return pd.Series(pd.array(reasons, dtype="str"), index=texts.index)
