"""Verified near-duplicate pairs of a Dask frame's documents: the stages that the
``near_dedup`` step and the cross-split gate expectation share.

1. per partition: each document's n-gram hashes (``shingles``), MinHash signature and LSH
   band keys (``minhash``); documents without n-grams (null or empty text) get none and are
   never candidates;
2. band rows shuffled on their bucket key; each bucket gives candidate pairs, a bounded
   number per bucket (``candidates``), kept only when ``keep`` accepts their two groups
   (the gate pairs only documents of different splits);
3. both documents' texts joined to each pair (``with_texts``: one merge with the documents,
   one shuffle of the pairs' rows, which also keeps a pair repeated by several bands once),
   and the exact Jaccard of their n-gram sets computed (``jaccard``): only pairs at or
   above the threshold become edges.

A document's key is its lineage packed in an int64, ``_source_id * 2**40 + _source_line``
(inputs below 2**23, lines below 2**40): the smallest key of a set of documents is the one
first in input order, and a key names its row's input and line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms import frame as fr
from assay.transforms.dedup import LINE_BITS, packed_lineage
from assay.transforms.frame import Column, Frame
from assay.transforms.near_dedup.candidates import bucket_pairs
from assay.transforms.near_dedup.jaccard import pair_jaccard
from assay.transforms.near_dedup.minhash import band_keys, signatures
from assay.transforms.shingles import Unit, shingle_hashes

if TYPE_CHECKING:
    import dask.dataframe as dd

KEY = "_near_key"
GROUP = "_near_group"  # optional int column of ``keyed``: which group a document is in
_CHUNK_BYTES = 512 << 10  # ~15 MiB of hashing temporaries (4 MiB chunks: ~100)
BROADCAST_PARTITIONS = 32  # pairs partitions up to which texts are joined where they lie

PairFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]  # groups of a, b -> keep


@dataclass(frozen=True)
class Shingling:
    """How documents are compared: their text column, n-grams, MinHash bands and seed."""

    column: str
    unit: Unit
    ngram: int
    bands: int
    rows_per_band: int
    seed: int


def with_key(part: Frame) -> Frame:
    """``part`` with its rows' keys (``KEY``) from their lineage."""
    keys = packed_lineage(part)
    if keys is None:
        raise ValueError("near-duplicates: more than 2**23 inputs or 2**40 lines in one input")
    return part.assign(**{KEY: fr.library(part).Series(keys, index=part.index)})


def key_parts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The input number and the line of each key."""
    return keys >> LINE_BITS, keys & ((1 << LINE_BITS) - 1)


def texts(values: Column) -> pa.Array:
    """A text column as Arrow strings on the host (n-grams are hashed there)."""
    arrow = fr.arrow_strings(values)
    if arrow is None:  # GPU check: cuDF strings come to the host for the n-gram hashes
        arrow = pa.array(fr.to_pandas(values), pa.large_string(), from_pandas=True)
    return arrow


def rows_bytes(part: Frame) -> Column:
    """The bytes ``part``'s rows hold in memory, about: their strings' UTF-8 bytes plus 8
    per value. Counted from the values alone, so a corpus gives the same total whatever
    its partitions (a one-value Series, for a Dask sum)."""
    total = 0
    for name in part.columns:
        values = part[name]
        total += 8 * len(values)
        if fr.is_string_like(values) and str(values.dtype) != "object":  # object: 8 each
            total += int(pc.sum(pc.binary_length(texts(values))).as_py() or 0)
    return fr.library(part).Series([total], dtype="int64")


def chunks(strings: pa.Array) -> list[tuple[int, int]]:
    """Ranges of whole documents of about ``_CHUNK_BYTES`` of text each: n-gram hashing
    holds several 8-byte values per character, so a task's memory follows the chunk, not
    the partition."""
    sizes = pc.fill_null(pc.binary_length(strings), 0).to_numpy(zero_copy_only=False)
    ends = np.cumsum(sizes, dtype=np.int64)
    cuts = np.searchsorted(ends, np.arange(1, ends[-1] // _CHUNK_BYTES + 1) * _CHUNK_BYTES,
                           "right") if len(ends) else np.zeros(0, np.int64)
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts + 1, len(ends)), [len(ends)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def band_rows(part: Frame, how: Shingling) -> Frame:
    """(key, bucket[, group]) for each band of each document with n-grams."""
    xp = fr.array_module(part)
    strings = texts(part[how.column])
    buckets, present = [xp.zeros(0, dtype=xp.uint64)], [np.zeros(0, dtype=bool)]
    for lo, hi in chunks(strings):
        shingles = shingle_hashes(strings[lo:hi], how.unit, how.ngram)
        signature = signatures(shingles, how.bands * how.rows_per_band, how.seed, xp)
        buckets.append(band_keys(signature, how.bands, how.rows_per_band, xp).ravel())
        present.append(shingles.counts > 0)
    with_ngrams = xp.asarray(np.concatenate(present))
    columns = {"key": fr.array_values(part[KEY])[with_ngrams]}
    if GROUP in part.columns:
        columns["group"] = fr.array_values(part[GROUP])[with_ngrams]
    columns = {name: xp.repeat(values, how.bands) for name, values in columns.items()}
    return fr.library(part).DataFrame({**columns, "bucket": xp.concatenate(buckets)})


def similarity(part: Frame, how: Shingling) -> np.ndarray:
    """The exact Jaccard of each row's ``text_a`` and ``text_b``."""
    left, right = texts(part["text_a"]), texts(part["text_b"])
    return np.concatenate([np.zeros(0), *(
        pair_jaccard(left[lo:hi], right[lo:hi], how.unit, how.ngram)
        for lo, hi in chunks(left))])  # chunked by the left texts' bytes


def with_texts(pairs: dd.DataFrame, keyed: dd.DataFrame, ends: tuple[str, str],
               column: str, partitions: int) -> dd.DataFrame:
    """``pairs`` with the text of the document at each of its two ``ends`` (key columns),
    as ``text_a`` and ``text_b``; a pair given several times comes out once.

    The documents are shuffled once, not once per end: each pair is stacked as two rows (the
    pair, one end's key as ``KEY``, which end), the rows merged with the documents on the
    key, then shuffled on the pair so its two rows (and its copies) meet again. With at most
    ``BROADCAST_PARTITIONS`` partitions the documents are not shuffled at all: the stacked
    rows (keys only, ~66 bytes a pair) as one partition are merged with each partition of
    documents where it lies (memory: one partition of documents and all stacked pairs)."""
    stacked = pairs.map_partitions(_stack, list(ends), meta=_stack(pairs._meta, list(ends)),
                                   enforce_metadata=False)
    broadcast = partitions <= BROADCAST_PARTITIONS
    if broadcast:  # one partition of narrow rows: Dask broadcasts the side with fewer
        # partitions, and broadcasting the documents would give each task all of them
        stacked = stacked.repartition(npartitions=1)
    joined = stacked.merge(keyed[[KEY, column]], on=KEY, npartitions=partitions,
                           broadcast=broadcast)
    meta = _unstack(joined._meta, list(ends), column)
    return joined.shuffle(on=list(ends), npartitions=partitions).map_partitions(
        _unstack, list(ends), column, meta=meta, enforce_metadata=False)


def _stack(pairs: Frame, ends: list[str]) -> Frame:
    """Each pair twice, with one end's key as ``KEY`` and ``_end`` 0 or 1 (which end)
    (GPU check: cuDF's scalar-with-index Series and concat give the same rows)."""
    lib = fr.library(pairs)
    return lib.concat([pairs.assign(**{KEY: pairs[end], "_end": lib.Series(
        side, index=pairs.index, dtype="int8")}) for side, end in enumerate(ends)],
        ignore_index=True)


def _unstack(part: Frame, ends: list[str], column: str) -> Frame:
    """A pair's two stacked rows (with their end's text) as one row: its columns, then
    ``text_a`` and ``text_b``; copies of a pair kept once."""
    part = part.drop_duplicates(subset=[*ends, "_end"])
    ends_a, ends_b = (part[part["_end"] == side] for side in (0, 1))
    left = ends_a.drop(columns=[KEY, "_end"]).rename(columns={column: "text_a"})
    right = ends_b[[*ends, column]].rename(columns={column: "text_b"})
    return left.merge(right, on=ends).reset_index(drop=True)


def verified_edges(keyed: dd.DataFrame, how: Shingling, threshold: float, partitions: int,
                   keep: PairFilter | None = None) -> dd.DataFrame:
    """(a, b, jaccard), ``a < b``, for every candidate pair of ``keyed``'s documents (with
    ``KEY``) whose exact Jaccard reaches ``threshold``: each pair once, in ``partitions``
    partitions. With ``keep``, ``keyed`` has ``GROUP`` too, only the pairs whose groups
    ``keep`` accepts are verified, and the edges carry both groups (``group_a``,
    ``group_b``). Lazy: ``candidate_pairs`` then ``verify_pairs`` in one graph."""
    pairs = candidate_pairs(keyed, how, partitions, keep)
    return verify_pairs(pairs, keyed, how, threshold, partitions)


def candidate_pairs(keyed: dd.DataFrame, how: Shingling, partitions: int,
                    keep: PairFilter | None = None) -> dd.DataFrame:
    """(a, b[, group_a, group_b]) int64: stages 1 and 2 of ``verified_edges``, the candidate
    pairs (a pair shared by several bands may repeat across partitions)."""
    bands = keyed.map_partitions(band_rows, how, meta=band_rows(keyed._meta, how),
                                 enforce_metadata=False)
    meta = dict.fromkeys(["a", "b", *(["group_a", "group_b"] if keep else [])], "int64")
    return bands.shuffle(on="bucket", npartitions=partitions).map_partitions(
        _pairs, keep, meta=meta, enforce_metadata=False)


def verify_pairs(pairs: dd.DataFrame, keyed: dd.DataFrame, how: Shingling, threshold: float,
                 partitions: int) -> dd.DataFrame:
    """Stage 3 of ``verified_edges``: the ``candidate_pairs`` whose exact Jaccard reaches
    ``threshold``, with it (``jaccard``). Given persisted pairs, ``keyed`` is read again
    here instead of being held on the workers from the band stage until the pairs exist
    (the whole input would be)."""
    meta = {**{name: "int64" for name in pairs._meta.columns}, "jaccard": "float64"}
    pairs = with_texts(pairs, keyed, ("a", "b"), how.column, partitions)
    return pairs.map_partitions(_verify, how, threshold, meta=meta, enforce_metadata=False)


def _pairs(part: Frame, keep: PairFilter | None) -> Frame:
    """A bucket partition's candidate pairs that ``keep`` accepts, with their groups (GPU
    check: paired on the host)."""
    keys = fr.host_numbers(part["key"])
    a, b = bucket_pairs(keys, fr.host_numbers(part["bucket"]))
    if len(a):  # a pair shares several of this partition's buckets: shuffled once
        order = np.lexsort((b, a))
        a, b = a[order], b[order]
        first = np.concatenate([[True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
        a, b = a[first], b[first]
    columns = {"a": a, "b": b}
    if keep is not None:  # each distinct pair's groups looked up once, then filtered
        known, first = np.unique(keys, return_index=True)
        groups = fr.host_numbers(part["group"])[first].astype(np.int64)
        columns |= {"group_a": groups[np.searchsorted(known, a)],
                    "group_b": groups[np.searchsorted(known, b)]}
        accepted = keep(columns["group_a"], columns["group_b"])
        columns = {name: values[accepted] for name, values in columns.items()}
    return fr.from_arrow(part, pa.table(columns))


def _verify(part: Frame, how: Shingling, threshold: float) -> Frame:
    """The pairs whose exact Jaccard reaches the threshold (the edges)."""
    jaccard = similarity(part, how)
    joined = jaccard >= threshold
    ends = {name: fr.host_numbers(part[name])[joined] for name in part.columns
            if name not in ("text_a", "text_b")}
    # GPU check: pairs are verified on the host, the edges go back to the device
    return fr.from_arrow(part, pa.table({**ends, "jaccard": jaccard[joined]}))
