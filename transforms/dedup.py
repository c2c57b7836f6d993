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

With ``scope: dataset`` the rows are also checked against the rows already published: the
engine keeps an index of the published keys beside the table (``assay.pipelines.dedup_index``)
bucketed by ``index_hash`` (``assay.transforms.key_hash``: defined on the values, so the same
on every backend and library version, as a stored hash must be).
The shuffle then routes on that bucket, so each output partition holds whole buckets and
reads only their part of the index. The index hash stays on the rows as ``INDEX_HASH`` (a
hidden column, like lineage) until the sink writes the index part from it: each key is
hashed once per run.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol

import numpy as np
from dask.utils import parse_bytes
from pydantic import Field

from assay.transforms import exchange
from assay.transforms import frame as fr
from assay.transforms.base import REMOVED, REMOVED_REASON, GlobalStep, register
from assay.transforms.frame import Column, Frame
from assay.transforms.params import ByteSize, ColumnList, require_columns

LINEAGE = ["_source_id", "_source_line"]
LINE_BITS = 40  # a packed lineage: input << LINE_BITS | line (below 2**23 inputs, 2**40 lines)
INDEX_HASH = "_index_hash"  # carried to the sink by a dataset-wide dedup
_HASH = "_dedup_hash"
_SLOT = "_dedup_slot"
# The index's buckets: fixed, since every run of a dataset must bucket a key alike. A
# partition reads 1/BUCKETS of the index per bucket it holds.
BUCKETS = 256
# A dataset-wide dedup routes rows by slot: a slot lies in one bucket (slot % BUCKETS is the
# bucket), and there are about this many slots per partition, so a partition holds about
# partition_bytes whatever the input's size, and its lookup reads the index's row groups of
# at most this many buckets. Routing by bucket left at most BUCKETS partitions holding
# rows, each input/BUCKETS large: 512 MiB workers were killed at 10x their memory.
SLOTS_PER_PARTITION = 4


class PublishedKeys(Protocol):
    """What a dataset-wide dedup asks of the published table."""

    def twins(self, keys: Any, hashes: np.ndarray, buckets: np.ndarray) -> np.ndarray:
        """For each row of ``keys`` (a pandas frame of the key columns; its ``index_hash``
        and bucket beside), the Delta version holding a published row with equal key
        values, -1 where none does."""
        ...


def index_hash(part: Frame, key: list[str]) -> Column:
    """The key's hash as the index stores it (version ``KEY_HASH_VERSION``)."""
    return fr.key_hash(part, key)


def index_bucket(hashes: Column) -> Column:
    return (hashes % BUCKETS).astype("int64")


def _key_hash(part: Frame, key: list[str]) -> Column:
    return fr.hash_rows(part, key)


def _with_hash(part: Frame, key: list[str]) -> Frame:
    return part.assign(**{_HASH: _key_hash(part, key)})


def index_slots(partitions: int) -> int:
    """How many slots a dataset-wide dedup routes ``partitions`` partitions by: a multiple
    of BUCKETS, so that slots nest in buckets."""
    return BUCKETS * max(1, math.ceil(SLOTS_PER_PARTITION * partitions / BUCKETS))


def _with_slot(part: Frame, key: list[str], slots: int) -> Frame:
    hashes = index_hash(part, key)
    return part.assign(**{INDEX_HASH: hashes, _SLOT: (hashes % slots).astype("int64")})


def packed_lineage(part: Frame) -> np.ndarray | None:
    """Each row's lineage as one int64 (input << ``LINE_BITS`` | line), which orders rows as
    lineage does; None where it does not fit (2**23 inputs, or 2**40 lines in one)."""
    ids, lines = (fr.host_numbers(part[c]).astype(np.int64) for c in LINEAGE)
    if len(ids) and (ids.max() >= 1 << (63 - LINE_BITS) or lines.max() >= 1 << LINE_BITS):
        return None
    return (ids << LINE_BITS) | lines


def in_lineage_order(part: Frame) -> Frame:
    """``part``'s rows in lineage order, labels reset (shuffles repeat them). On the host,
    one stable sort of the packed lineage and one take: 161 ms against ``sort_values`` on
    the two columns' 218 ms for 500K rows of the standard job."""
    packed = None if fr.on_device(part) else packed_lineage(part)
    if packed is None:  # the device sorts the two columns itself
        return part.sort_values(LINEAGE).reset_index(drop=True)
    return part.take(np.argsort(packed, kind="stable")).reset_index(drop=True)


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

    Equal keys have equal hashes (the routing hash, or the index hash that routed a
    dataset-wide dedup and stays on the rows), so only rows sharing a hash (a few percent)
    are compared on the whole key; the rest cannot be duplicates.
    """
    return _mark_ordered(in_lineage_order(part), key)


def _mark_ordered(ordered: Frame, key: list[str]) -> Frame:
    """``_mark_duplicates`` of rows already in lineage order."""
    hashed = INDEX_HASH if INDEX_HASH in ordered.columns else _HASH
    candidates = ordered.duplicated(subset=[hashed], keep=False)
    removed = candidates & False
    if bool(candidates.any()):
        repeated = ordered[candidates].duplicated(subset=key, keep="first")
        removed = repeated.reindex(ordered.index, fill_value=False)  # cuDF aligns no masks
    hidden = [c for c in (_HASH, _SLOT) if c in ordered.columns]
    return ordered.drop(columns=hidden).assign(**{REMOVED: removed.astype(bool)})


def _mark_published(part: Frame, key: list[str], published: PublishedKeys, label: str
                    ) -> Frame:
    """``_mark_duplicates``, and rows whose key the published table holds removed too, with
    a reason naming the version that holds the twin."""
    ordered = in_lineage_order(part)
    hashes = fr.host_numbers(ordered[INDEX_HASH])
    versions = published.twins(fr.to_pandas(ordered[key]), hashes, index_bucket(hashes))
    marked = _mark_ordered(ordered, key)
    twin = versions >= 0
    reasons = np.full(len(ordered), None, dtype=object)
    reasons[twin] = [f"{label}: duplicate of a row in version {v}" for v in versions[twin]]
    lib = fr.library(marked)
    return marked.assign(**{
        REMOVED: marked[REMOVED] | lib.Series(twin, index=marked.index),
        REMOVED_REASON: lib.Series(reasons, index=marked.index, dtype="str")})


@register
class Dedup(GlobalStep):
    """Remove rows whose ``columns`` (all data columns by default) equal an earlier row's.
    The keeper is the first row in input order (file, line), whatever the partitioning;
    this step adds the run's shuffle. With ``scope: dataset`` an appending run also removes
    rows whose key the published dataset already holds."""

    op: Literal["dedup"] = "dedup"
    columns: ColumnList | None = Field(None, description=(
        "The key: rows equal on these columns are duplicates (null: all data columns)."),
        examples=[["event_id"]])
    partition_bytes: ByteSize = Field(parse_bytes("32MiB"), description=(
        "Input bytes per shuffled partition: the shuffle makes one partition per this much "
        "of the uploads' total size, whatever the block size or worker count. Each becomes "
        "one task of the sink, which holds a few copies of its rows while it writes them, "
        "so smaller partitions lower a run's peak memory and make more, smaller shards "
        "(the 4M-row standard job: 13% less peak at 32 MiB than at 64, in the same time). "
        "Each must fit a worker's memory several times over once parsed."),
        examples=["16MiB"])

    shuffle_blocks: int = Field(1, ge=1, description=(
        "Read blocks joined into one input of the shuffle. Between worker processes (a run "
        "that joins a scheduler or has `processes: true`) the shuffle does a piece of work "
        "for each input and output partition pair, so on many small blocks joining them "
        "pays: on a 10x out-of-core run on 512 MiB workers, 2 cut the time by 12% through "
        "Dask's p2p and by 19% through files. Each input then holds that many blocks' rows "
        "at once, in the worker's memory."), examples=[2])

    scope: Literal["dataset", "run"] = Field("dataset", description=(
        "`dataset`: an appending run also drops rows whose key is already in the published "
        "dataset (exact: checked against an index of the published keys kept beside the "
        "table; the reason names the version holding the twin), so ingesting uploads one by "
        "one publishes the rows one run over all of them would. An overwriting run has "
        "nothing published before it and starts the index afresh. Needs the dedup to be the "
        "last step (gates may follow). `run`: duplicates only within the run's own rows."),
        examples=["run"])

    @property
    def must_be_last(self) -> bool:
        return self.scope == "dataset"

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns or [], self.label)
        return columns

    def apply_dask(self, live: Any, data_columns: list[str], input_bytes: int,
                   published: PublishedKeys | None = None) -> Any:
        key = list(self.columns or data_columns)
        require_columns(data_columns, key, self.label)
        partitions = max(1, math.ceil(input_bytes / self.partition_bytes))
        if self.shuffle_blocks > 1:  # consecutive blocks concatenated, nothing moved
            live = live.repartition(npartitions=math.ceil(live.npartitions / self.shuffle_blocks))
        if self.scope == "dataset":  # a few index buckets' slots per partition
            slots = index_slots(partitions)
            hashed = live.map_partitions(_with_slot, key, slots,
                                         meta=_with_slot(live._meta, key, slots),
                                         enforce_metadata=False)
            shuffled = exchange.shuffle(hashed, _SLOT, partitions)
        else:
            route = _routing_key(live._meta, key)
            hashed = live.map_partitions(_with_hash, route, meta=_with_hash(live._meta, route),
                                         enforce_metadata=False)  # no meta frame in each task
            shuffled = exchange.shuffle(hashed, _HASH, partitions)
        if published is None:
            meta = _mark_duplicates(hashed._meta, key)
            return shuffled.map_partitions(_mark_duplicates, key, meta=meta,
                                           enforce_metadata=False)
        meta = _mark_duplicates(hashed._meta, key)
        meta = meta.assign(**{REMOVED_REASON: fr.library(meta).Series(dtype="str")})
        return shuffled.map_partitions(_mark_published, key, published, self.label, meta=meta,
                                       enforce_metadata=False)
