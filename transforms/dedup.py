"""The ``dedup`` global step: remove exact duplicate rows, keeping the first in input order.

Rows are hashed on the key columns and shuffled on that hash, so all copies of a key meet
in one partition. There, rows are ordered by lineage (``_source_id``, ``_source_line``) and
every row whose key *values* equal an earlier row's is marked: the hash only routes rows,
so a hash collision can never remove a distinct row. The keeper is the row with the
smallest lineage whatever the number of partitions or workers.

The shuffle's output partitions are set by the inputs' total size (one per
``partition_bytes``), never by the read's block size or the worker count: which rows meet in
which output partition, and so every shard written after a dedup, is the same however the
input was cut or spread.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from dask.utils import parse_bytes
from pydantic import Field

from assay.transforms import frame as fr
from assay.transforms.base import GlobalStep, register
from assay.transforms.frame import Column, Frame
from assay.transforms.params import ByteSize, ColumnList, require_columns

LINEAGE = ["_source_id", "_source_line"]
_HASH = "_dedup_hash"


def _key_hash(part: Frame, key: list[str]) -> Column:
    return fr.hash_rows(part, key)


def _with_hash(part: Frame, key: list[str]) -> Frame:
    return part.assign(**{_HASH: _key_hash(part, key)})


def _routing_key(meta: Frame, key: list[str]) -> list[str]:
    """The key columns to hash for the shuffle. Equal keys meet whatever subset routes them,
    and numbers hash far faster than strings (``benchmarks/RESULTS.md``), so the key's
    non-string columns route when it has any (a key whose only numbers are low-cardinality
    would skew partitions; rows are still compared on the whole key)."""
    numeric = [c for c in key if not fr.is_string_like(meta[c])]
    return numeric or key


def _mark_duplicates(part: Frame, key: list[str]) -> Frame:
    """Partition rows in lineage order with ``_removed`` True on all but the first of each
    group of equal keys (the sort also makes the output order deterministic).

    Equal keys have equal routing hashes, so only rows sharing a hash (a few percent) are
    compared on the whole key; the rest cannot be duplicates.
    """
    ordered = part.sort_values(LINEAGE).reset_index(drop=True)  # shuffles repeat labels
    candidates = ordered.duplicated(subset=[_HASH], keep=False)
    removed = candidates & False
    if bool(candidates.any()):
        repeated = ordered[candidates].duplicated(subset=key, keep="first")
        removed = repeated.reindex(ordered.index, fill_value=False)  # cuDF aligns no masks
    return ordered.drop(columns=[_HASH]).assign(_removed=removed.astype(bool))


@register
class Dedup(GlobalStep):
    """Remove rows whose ``columns`` (all data columns by default) equal an earlier row's.
    The keeper is the first row in input order (file, line), whatever the partitioning;
    this step adds the run's shuffle."""

    op: Literal["dedup"] = "dedup"
    columns: ColumnList | None = Field(None, description=(
        "The key: rows equal on these columns are duplicates (null: all data columns)."),
        examples=[["event_id"]])
    partition_bytes: ByteSize = Field(parse_bytes("64MiB"), description=(
        "Input bytes per shuffled partition: the shuffle makes one partition per this much "
        "of the uploads' total size, whatever the block size or worker count. Each must fit "
        "a worker's memory several times over once parsed."), examples=["32MiB"])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns or [], self.label)
        return columns

    def apply_dask(self, live: Any, data_columns: list[str], input_bytes: int) -> Any:
        key = list(self.columns or data_columns)
        require_columns(data_columns, key, self.label)
        route = _routing_key(live._meta, key)
        hashed = live.map_partitions(_with_hash, route, meta=_with_hash(live._meta, route),
                                     enforce_metadata=False)  # no meta frame in each task
        partitions = max(1, math.ceil(input_bytes / self.partition_bytes))
        shuffled = hashed.shuffle(on=_HASH, npartitions=partitions)
        meta = _mark_duplicates(hashed._meta, key)
        return shuffled.map_partitions(_mark_duplicates, key, meta=meta, enforce_metadata=False)
