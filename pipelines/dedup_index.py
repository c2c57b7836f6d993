"""The index of a dataset-wide dedup: the published keys, kept beside the table and
versioned with it.

Layout, under ``<sink>/_assay/index/<step label>/``::

    parts/<run id>-p<partition>.parquet   _hash (uint64) and the key's columns, by bucket
    runs/<run id>.json                    the key a run indexed (it wrote its parts), and
                                          the version of its key hash

The hash's version (``assay.transforms.key_hash``) is also in each part's metadata: parts of
version 1 (pandas' hash, before assay had its own) are still read, probed with that hash and
its buckets, and a table holding a version newer than this assay's is refused.

A run writes one part per partition on the workers, from the rows it publishes (``write``),
into its staging folder: rows ordered by bucket, one row group per bucket (more for a big
one), and the bucket of each row group in the file's metadata. Publishing places the parts
beside the others before the commit, so a run that never commits leaves files no live run
names, and ``staging.prepare`` removes them by their run id as it removes the shards. Which
runs are live follows the table: the data commits since the last overwrite, read from the
log's ``assay.run_id`` and ``assay.mode``, so an overwrite starts the index afresh and the
version of a twin is the version of the commit that published its run (known from the log,
so the files need not record it: the commit's version is not known while the workers
write).

A lookup opens each live part once and reads only the row groups of the buckets its
partition holds (the dedup shuffles on slots of buckets, a few per partition): first their
hashes, then the rows whose hash matches, whose key values are compared with the probe's (a
hash match alone never drops a row). So a worker holds its partition plus one part's hashes
for those buckets, however large the table grows, and the files it opens grow with the
runs, not with runs times buckets (one file per bucket and partition cost 7.9 s against 2.1
s per lookup at 20M rows; ``benchmarks/RESULTS.md``). Written here rather than taken from a
library: datatrove's and NeMo Curator's exact dedup trust the hash and keep no index across
runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from assay.pipelines import table as delta
from assay.pipelines.errors import SpecError
from assay.pipelines.plan import RunPlan
from assay.pipelines.spec import PipelineSpec
from assay.transforms import frame as fr
from assay.transforms.dedup import BUCKETS, Dedup, index_bucket
from assay.transforms.key_hash import KEY_HASH_VERSION

if TYPE_CHECKING:  # opened through assay.pipelines.table: workers need not import deltalake
    from deltalake import DeltaTable

INDEX = f"{delta.ASSAY_FOLDER}/index"
HASH = "_hash"
PARTS = "parts"
GROUP_BUCKETS = b"assay.row_group_buckets"  # a part's metadata: the bucket of each row group
HASH_VERSION = b"assay.key_hash"  # and the version of its hash (absent: version 1)
ROW_GROUP_ROWS = 64 * 1024  # what a lookup holds of the index at once


@dataclass(frozen=True)
class IndexedStep:
    """A dataset-wide dedup of this run: its label, resolved key, and the run writing."""

    label: str
    key: tuple[str, ...]
    run_id: str


def indexed_steps(spec: PipelineSpec, columns: list[str], run_id: str) -> list[IndexedStep]:
    """The run's dataset-wide dedups (``columns``: the data columns it publishes, which are
    those the last step sees)."""
    return [IndexedStep(step.label, tuple(step.columns or columns), run_id)
            for step in spec.steps if isinstance(step, Dedup) and step.scope == "dataset"]


def live_runs(table: DeltaTable | None) -> dict[str, int]:
    """Run id -> version of the runs whose rows the table's latest version holds: the data
    commits back to the last overwrite (history() numbers versions right on the latest
    table only, which is the one a run appends to)."""
    runs: dict[str, int] = {}
    if table is None:
        return runs
    for commit in sorted(table.history(), key=lambda c: c["version"], reverse=True):
        run_id = commit.get(delta.RUN_ID)
        if run_id is None:  # a commit of no run (vacuum, optimize) leaves the rows
            continue
        runs[run_id] = commit["version"]
        if commit.get(delta.MODE) == "overwrite":
            break
    return runs


@dataclass(frozen=True)
class PublishedIndex:
    """The live part of one step's index; ``twins`` runs on the workers."""

    sink_path: str
    options: dict[str, Any]
    label: str
    key: tuple[str, ...]
    runs: Mapping[str, int]

    def twins(self, keys: pd.DataFrame, hashes: np.ndarray, buckets: np.ndarray
              ) -> np.ndarray:
        """For each row, the earliest version holding a row with equal key values; -1 where
        none does."""
        found = np.full(len(keys), -1, dtype=np.int64)
        fs, root = url_to_fs(self.sink_path, **self.options)
        probe = _Probe(keys, hashes, buckets)
        for path, version in self._parts(fs, f"{root}/{INDEX}/{self.label}/{PARTS}"):
            open_rows = np.flatnonzero(found < 0)
            if len(open_rows) == 0:
                break
            with fs.open(path, "rb") as handle:
                found[probe.matches(pq.ParquetFile(handle), open_rows)] = version
        return found

    def _parts(self, fs: Any, folder: str) -> list[tuple[str, int]]:
        """The parts of live runs, oldest version first (one listing)."""
        parts = [(path, self.runs.get(_run_of(path)))
                 for path in (fs.ls(folder, detail=False) if fs.exists(folder) else [])]
        return sorted(((p, v) for p, v in parts if v is not None), key=lambda f: (f[1], f[0]))


class _Probe:
    """A partition's keys as the index stores them (converted once, on first use), matched
    against index parts by hash first and then by every key value: a hash match alone never
    drops a row."""

    def __init__(self, keys: pd.DataFrame, hashes: np.ndarray, buckets: np.ndarray) -> None:
        self._keys = keys
        self._hashed = {KEY_HASH_VERSION: (hashes, buckets)}
        self._by_bucket: dict[int, dict[int, pa.Array]] = {}
        self._table: pa.Table | None = None

    def _hashes(self, version: int) -> tuple[np.ndarray, np.ndarray]:
        """The keys' hashes and buckets as parts of hash ``version`` store them."""
        if version not in self._hashed:  # version 1: pandas' hash, on the host
            hashes = fr.stable_hash_rows(self._keys, list(self._keys.columns))
            self._hashed[version] = (hashes.to_numpy(), index_bucket(hashes).to_numpy())
        return self._hashed[version]

    def _hashes_by_bucket(self, version: int) -> dict[int, pa.Array]:
        """The keys' hashes of ``version`` split by bucket, once: a row group (one bucket)
        is matched against its bucket's hashes only. A set of a few thousand hashes stays in
        the CPU's cache where one of the partition's hundred thousand did not: a part's
        row groups match 6x faster, and the set is no longer built again for every part."""
        if version not in self._by_bucket:
            hashes, buckets = self._hashes(version)
            order = _bucket_order(buckets)
            starts = np.searchsorted(buckets[order], np.arange(BUCKETS + 1))
            ordered = pa.array(hashes[order], pa.uint64())
            self._by_bucket[version] = {
                int(bucket): ordered.slice(starts[bucket], starts[bucket + 1] - starts[bucket])
                for bucket in np.flatnonzero(np.diff(starts))}
        return self._by_bucket[version]

    def matches(self, index: pq.ParquetFile, rows: np.ndarray) -> np.ndarray:
        """Those of ``rows`` equal to a row of ``index``: the hashes of the row groups of
        their buckets first, then only the row groups holding a matching hash (matched
        against all the partition's hashes of that bucket: the value comparison that
        follows takes only ``rows``)."""
        version = int(index.schema_arrow.metadata.get(HASH_VERSION, 1))
        hashes, buckets = self._hashes(version)
        groups = _groups_of(index, _present(buckets[rows]))
        if not groups:
            return rows[:0]
        by_bucket = self._hashes_by_bucket(version)
        group_hashes = index.read_row_groups([g for g, _ in groups], columns=[HASH]).column(HASH)
        stored, offset = [], 0
        for group, bucket in groups:
            size = index.metadata.row_group(group).num_rows
            near = pc.is_in(group_hashes.slice(offset, size), value_set=by_bucket[bucket])
            offset += size
            if pc.any(near).as_py():
                stored.append(index.read_row_group(group).filter(near))
        if not stored:
            return rows[:0]
        return self._equal(pa.concat_tables(stored), rows, hashes, index.schema_arrow)

    def _equal(self, stored: pa.Table, rows: np.ndarray, hashes: np.ndarray,
               schema: pa.Schema) -> np.ndarray:
        """Those of ``rows`` whose hash and key values both equal a row of ``stored``."""
        # Arrow's set of the (few) stored hashes, not numpy's sort of both sides
        rows = rows[pc.is_in(pa.array(hashes[rows], pa.uint64()), value_set=stored.column(HASH))
                    .to_numpy(zero_copy_only=False)]
        pairs = pa.table({"_row": rows, HASH: pa.array(hashes[rows], pa.uint64())}).join(
            stored.select([HASH]).append_column("_at", pa.array(np.arange(stored.num_rows))),
            keys=HASH)
        probe = self._as_stored(schema).take(pairs["_row"])
        stored = stored.take(pairs["_at"])
        same = pa.array(np.ones(pairs.num_rows, dtype=bool))
        for name in self._keys.columns:
            same = pc.and_(same, _same_values(probe[name], stored[name]))
        return np.unique(pairs["_row"].filter(same).to_numpy())

    def _as_stored(self, schema: pa.Schema) -> pa.Table:
        if self._table is None:  # the index's types, so values compare alike
            fields = [schema.field(name) for name in self._keys.columns]
            self._table = pa.Table.from_pandas(self._keys, schema=pa.schema(fields),
                                               preserve_index=False)
        return self._table


def _bucket_order(buckets: np.ndarray) -> np.ndarray:
    """The stable order of rows by bucket. numpy sorts small integers by radix: bucket
    numbers as the smallest type that holds them."""
    return np.argsort(buckets.astype(np.min_scalar_type(BUCKETS - 1)), kind="stable")


def _present(buckets: np.ndarray) -> np.ndarray:
    """Which of the ``BUCKETS`` buckets occur in ``buckets`` (a set of the Python ints cost
    a lookup 20-30 ms a part)."""
    present = np.zeros(BUCKETS, dtype=bool)
    present[buckets] = True
    return present


def _groups_of(index: pq.ParquetFile, present: np.ndarray) -> list[tuple[int, int]]:
    """The row groups of ``index`` holding rows of the ``present`` buckets, with each one's
    bucket."""
    stored = json.loads(index.schema_arrow.metadata[GROUP_BUCKETS])
    return [(group, bucket) for group, bucket in enumerate(stored) if present[bucket]]


def _same_values(left: pa.ChunkedArray, right: pa.ChunkedArray) -> pa.ChunkedArray:
    """Equal, with null equal to null (as dedup compares rows)."""
    both_null = pc.and_(pc.is_null(left), pc.is_null(right))
    return pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)


def published(plan: RunPlan, table: DeltaTable | None) -> dict[str, PublishedIndex]:
    """The live index of each dataset-wide dedup an appending run checks against
    (``table``: the version it appends to, None for an overwrite or a first version);
    refuses a table whose live runs did not all write the step's index (one line naming
    it)."""
    spec = plan.spec
    labels = [s.label for s in spec.steps if isinstance(s, Dedup) and s.scope == "dataset"]
    if table is None or not labels:
        return {}
    options = spec.sink.storage_options
    runs = live_runs(table)
    if not runs:
        return {}
    fs, root = url_to_fs(plan.sink_path, **options)
    indexes = {}
    for label in labels:
        keys = set()
        for run_id, version in runs.items():
            marker = f"{root}/{INDEX}/{label}/runs/{run_id}.json"
            if not fs.exists(marker):
                raise SpecError(
                    f"steps {label!r} (scope: dataset): version {version} of {plan.sink_path} "
                    "was published without this step's index (scope: run, or an older "
                    "assay); publish once with sink.mode: overwrite to start it, or set "
                    "scope: run")
            indexed = json.loads(fs.cat_file(marker))
            if indexed.get("key_hash", 1) > KEY_HASH_VERSION:
                raise SpecError(
                    f"steps {label!r} (scope: dataset): version {version} of "
                    f"{plan.sink_path} was indexed with key hash version "
                    f"{indexed['key_hash']} by a newer assay; this one reads up to version "
                    f"{KEY_HASH_VERSION}: upgrade assay to append to it")
            keys.add(tuple(indexed["key"]))
        indexes[label] = PublishedIndex(plan.sink_path, options, label,
                                        keys.pop() if len(keys) == 1 else (), runs)
    return indexes


def check_keys(steps: list[IndexedStep], indexes: Mapping[str, PublishedIndex]) -> None:
    """An append must look its rows up by the key the table's index was built on."""
    for step in steps:
        index = indexes.get(step.label)
        if index is not None and index.key != step.key:
            raise SpecError(
                f"steps {step.label!r}: the dataset's index is keyed on {list(index.key)}, "
                f"this run's key is {list(step.key)}; change it with one run in sink.mode: "
                "overwrite")


def stage_markers(fs: Any, staging_root: str, steps: list[IndexedStep]) -> None:
    """Each step's ``runs/<run id>.json``, staged: published with the run's index part."""
    for step in steps:
        path = f"{staging_root}/index/{step.label}/runs/{step.run_id}.json"
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, json.dumps({"key": list(step.key),
                                       "key_hash": KEY_HASH_VERSION}).encode())


def write(keys: pa.Table, hashes: np.ndarray, step: IndexedStep, staging: str,
          options: dict[str, Any], number: int, compression: str | None = "zstd") -> None:
    """The index part of partition ``number``: ``keys`` (the key columns of its published
    rows, in partition order) and their ``INDEX_HASH`` values (``hashes``, computed before
    the dedup's shuffle), ordered by bucket (and within one in partition order, so its
    bytes are the same for any worker count), one row group per bucket (or per
    ``ROW_GROUP_ROWS`` of one), in one take. ``compression``: the sink's codec as pyarrow
    names it (None: uncompressed), which is most of a part's cost (zstd over every key
    value: 14% of the standard job at 4M rows, a quarter of that uncompressed;
    ``benchmarks/RESULTS.md``)."""
    if keys.num_rows == 0:
        return
    buckets = index_bucket(hashes)
    order = _bucket_order(buckets)
    table = keys.take(pa.array(order)).add_column(
        0, pa.field(HASH, pa.uint64()), pa.array(hashes[order], pa.uint64()))
    buckets = buckets[order]
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    groups = [(int(buckets[start]), at, min(ROW_GROUP_ROWS, end - at))
              for start, end in zip(starts, [*starts[1:], len(buckets)], strict=True)
              for at in range(start, end, ROW_GROUP_ROWS)]
    table = table.replace_schema_metadata(
        {GROUP_BUCKETS: json.dumps([bucket for bucket, _, _ in groups]),
         HASH_VERSION: str(KEY_HASH_VERSION)})
    fs, root = url_to_fs(staging, **options)
    path = f"{root}/index/{step.label}/{PARTS}/{step.run_id}-p{number:06d}.parquet"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    # no statistics (lookups find row groups by bucket) and no dictionaries: on row groups
    # of one bucket each both cost time and size (a 670k-row part of the standard job:
    # 430 -> 290 ms, 28.7 -> 24.2 MB)
    with fs.open(path, "wb") as handle, pq.ParquetWriter(
            handle, table.schema, compression=compression, use_dictionary=False,
            write_statistics=False) as writer:
        for _, at, size in groups:
            writer.write_table(table.slice(at, size), row_group_size=ROW_GROUP_ROWS)


def run_files(fs: Any, root: str, run_id: str) -> list[str]:
    """Every index file of a run (to remove those of a run that never committed)."""
    return (fs.glob(f"{root}/{INDEX}/*/{PARTS}/{run_id}-p*.parquet")
            + fs.glob(f"{root}/{INDEX}/*/runs/{run_id}.json"))


def _run_of(path: str) -> str:
    """``.../<run id>-p000012.parquet`` -> the run id."""
    return path.rsplit("/", 1)[-1].rsplit("-p", 1)[0]
