"""The published documents a dataset-wide ``near_dedup`` compares an appending run's with.

They join the run's documents in the verified-edge stages (``edges``) as group 0 (the run's
are group 1), and a pair of two published documents is never made: the published table is
not deduplicated again, only the run's documents against it and among themselves.

A published document's key is ``file * 2**40 + row - 2**62`` (``file``: its file's place in
the version's sorted file list, ``row``: its row in that file, from 0): negative, so below
every run key (lineage, >= 0), and the smallest key of a cluster is its keeper.

With ``action: drop`` a run document with a verified edge to a published one leaves for it
(``twins``: the published neighbour of smallest key), and the run's other documents are
clustered among themselves as with ``scope: run`` (``without``): a kept run document never
leaves for one that left. With ``action: label`` the clusters are the whole connected
components, published documents included, so a run document near a published one takes
its cluster id (``INHERITED``) and a split by cluster keeps them together.

Each file is one partition of the Dask graph, read on a worker (text column only, and the
cluster column when the run writes one, to inherit it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms import frame as fr
from assay.transforms.dedup import LINE_BITS
from assay.transforms.frame import Frame
from assay.transforms.near_dedup.edges import GROUP, KEY

if TYPE_CHECKING:
    import dask.dataframe as dd

PUBLISHED, RUN = 0, 1  # the documents' groups
INHERITED = "_near_published_cluster"  # a published document's own cluster id
TWIN, TWIN_JACCARD = "_near_twin", "_near_twin_jaccard"  # a run document's published twin
_BASE = -(1 << 62)
_FILES = 1 << (62 - LINE_BITS)


class PublishedTexts(Protocol):
    """What a dataset-wide near-dedup asks of the published table: the data files of the
    version an appending run adds to."""

    version: int
    files: Sequence[str]  # relative to the table's root, in a fixed (sorted) order
    bytes: int  # their total size, which sizes the shuffles
    columns: Sequence[str]  # the table's columns

    def read(self, number: int, columns: list[str]) -> pa.Table:
        """``columns`` of file ``files[number]``, its rows in file order."""
        ...


def keys_of(number: int, rows: int) -> np.ndarray:
    """The keys of the first ``rows`` rows of published file ``number``."""
    if number >= _FILES or rows >= 1 << LINE_BITS:
        raise ValueError("near-duplicates: more than 2**22 published files or 2**40 rows in "
                         "one file")
    return _BASE + ((number << LINE_BITS) | np.arange(rows, dtype=np.int64))


def key_parts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The file number and the row of each published key."""
    places = keys - _BASE
    return places >> LINE_BITS, places & ((1 << LINE_BITS) - 1)


def not_both_published(group_a: np.ndarray, group_b: np.ndarray) -> np.ndarray:
    """The pair filter of ``edges.verified_edges``: published pairs are not compared."""
    return (group_a != PUBLISHED) | (group_b != PUBLISHED)


def run_documents(keyed: dd.DataFrame, column: str) -> dd.DataFrame:
    """The run's documents as the published ones are framed: (key, text, group 1)."""
    def frame(part: Frame) -> Frame:
        group = fr.library(part).Series(RUN, index=part.index, dtype="int8")
        return part[[KEY, column]].assign(**{GROUP: group})

    return keyed.map_partitions(frame, meta=frame(keyed._meta), enforce_metadata=False)


def published_documents(published: PublishedTexts, column: str, cluster: str | None,
                        like: Frame) -> dd.DataFrame:
    """Each published file's documents: (key, text, group 0[, its cluster id as
    ``INHERITED``]), one partition per file, in ``like``'s library (GPU check: the host
    read goes to the device in one copy)."""
    import dask.dataframe as dd

    meta = _frame(like, pa.table({column: pa.array([], pa.string()),
                                  **({cluster: pa.array([], pa.int64())} if cluster else {})}),
                  0, column, cluster)
    return dd.from_map(_read, range(len(published.files)), published=published, column=column,
                       cluster=cluster, like=like, meta=meta, enforce_metadata=False,
                       divisions=None)


def _read(number: int, published: PublishedTexts, column: str, cluster: str | None,
          like: Frame) -> Frame:
    return _frame(like, published.read(number, [c for c in (column, cluster) if c]), number,
                  column, cluster)


def _frame(like: Frame, table: pa.Table, number: int, column: str, cluster: str | None
           ) -> Frame:
    rows = table.num_rows
    columns = {KEY: pa.array(keys_of(number, rows)),
               column: pc.cast(table.column(column), pa.string()),
               GROUP: pa.array(np.full(rows, PUBLISHED, dtype=np.int8))}
    if cluster:
        columns[INHERITED] = pc.cast(table.column(cluster), pa.int64())
    return fr.from_arrow(like, pa.table(columns), types_mapper={
        pa.int64(): pd.Int64Dtype()}.get if cluster else None).astype({KEY: "int64"})


def twins(edges: dd.DataFrame, partitions: int) -> dd.DataFrame:
    """(node, ``TWIN``, ``TWIN_JACCARD``): each run document with a verified edge to a
    published one, its published neighbour of smallest key and their Jaccard."""
    published = edges[edges["a"] < 0]  # a < b: a published end is ``a``
    meta = {"node": "int64", TWIN: "int64", TWIN_JACCARD: "float64"}
    return published.shuffle(on="b", npartitions=partitions).map_partitions(
        _first_twin, meta=meta, enforce_metadata=False)


def _first_twin(part: Frame) -> Frame:
    first = part.sort_values(["b", "a"]).drop_duplicates(subset=["b"], keep="first")
    return first.rename(columns={"b": "node", "a": TWIN, "jaccard": TWIN_JACCARD})[
        ["node", TWIN, TWIN_JACCARD]]


def without(edges: dd.DataFrame, nodes: dd.DataFrame, partitions: int) -> dd.DataFrame:
    """The run's own edges (both ends run documents) with neither end in ``nodes``."""
    kept = edges[edges["a"] >= 0]
    for end in ("a", "b"):
        marks = nodes[["node"]].rename(columns={"node": end}).assign(_gone=1)
        kept = kept.merge(marks, on=end, how="left", npartitions=partitions)
        kept = kept[kept["_gone"].isna()].drop(columns="_gone")
    return kept


def reasons(label: str, published: PublishedTexts, twins: np.ndarray, jaccard: np.ndarray
            ) -> pa.Array:
    """``near-duplicate of a row in version V (file F, row R; verified Jaccard J)``: the
    published twin's file (relative to the table) and row in it (from 0)."""
    numbers, rows = key_parts(twins)
    text = [pc.cast(pa.array(v), pa.string()) for v in (rows, np.floor(jaccard * 1000) / 1000)]
    files = pa.array(list(published.files), pa.string()).take(pa.array(numbers))
    return pc.binary_join_element_wise(
        f"{label}: near-duplicate of a row in version {published.version} (file ", files,
        ", row ", text[0], "; verified Jaccard ", text[1], ")", "")
