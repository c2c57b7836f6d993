"""The ``near_dedup`` global step: remove documents whose text is a near-duplicate of an
earlier one's (Jaccard similarity of their n-gram sets at or above ``threshold``).

The run's live rows go through six stages, all on the Dask cluster:

1. per partition: each document's n-gram hashes (``shingles``), MinHash signature and LSH
   band keys (``minhash``); documents without n-grams (null or empty text) get none and are
   never candidates;
2. band rows shuffled on their bucket key; each bucket gives candidate pairs, a bounded
   number per bucket (``candidates``);
3. pairs shuffled and deduplicated, both documents' texts joined to each pair, and the
   exact Jaccard of their n-gram sets computed (``jaccard``): only pairs at or above
   ``threshold`` become edges;
4. connected components of the edges (``components``): rounds of merges persisted on the
   workers, the smallest document key of a component its label;
5. each member's text compared with its keeper's (exact Jaccard);
6. the labels merged back to the rows, shuffled on the document key.

A document's key is its lineage packed in an int64, ``_source_id * 2**40 + _source_line``
(inputs below 2**23, lines below 2**40), so the smallest key of a cluster is its member with
the smallest lineage: the keeper, as ``dedup`` keeps. The cluster id column holds the
keeper's key (a row's own key when it has no near-duplicate). Every choice is a minimum or
a sort over keys, and the shuffles' partitions are set by the inputs' size, so the output
is the same for any worker count or read block size.

What is guaranteed: every edge was verified at Jaccard >= ``threshold``, and a row is
removed only when its own exact Jaccard with its cluster's keeper reaches ``threshold``
too (a sixth stage compares each member with its keeper). Clusters are transitive (a chain
A~B~C is one cluster even when A and C are not near), but a member that is not near its
keeper stays: no document leaves for a kept twin it does not resemble. Its reason names
the keeper and that Jaccard.

On cuDF partitions the signatures and band keys are computed on the device (CuPy, through
``fr.array_module`` and ``fr.segment_min``) from n-gram hashes made on the host; bucket
pairing and Jaccard verification run on the host. A GPU session must check that signatures,
clusters and the published shards equal the CPU backend's (``GPU check`` comments).

The step reads its input twice: once to find the clusters (only keys, bucket keys, edges
and labels stay on the workers, persisted between the component rounds) and once to mark
the rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import dask
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dask.utils import parse_bytes
from pydantic import Field, field_validator, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import REMOVED, REMOVED_REASON, GlobalStep, register
from assay.transforms.dedup import LINEAGE
from assay.transforms.frame import Column, Frame
from assay.transforms.near_dedup.candidates import bucket_pairs
from assay.transforms.near_dedup.components import components
from assay.transforms.near_dedup.jaccard import pair_jaccard
from assay.transforms.near_dedup.minhash import band_keys, signatures
from assay.transforms.params import ByteSize, ColumnName, add_columns, require_columns
from assay.transforms.shingles import shingle_hashes

if TYPE_CHECKING:  # imported where used (components.concat)
    import dask.dataframe as dd

LINE_BITS = 40
_KEY = "_near_key"
_LINKS = ["node", "label", "size", "jaccard"]
_CHUNK_BYTES = 4 << 20


def s_curve(similarity: float, bands: int, rows: int) -> float:
    """The probability that two documents of Jaccard ``similarity`` share a band."""
    return 1 - (1 - similarity**rows) ** bands


def _curve_text(bands: int, rows: int) -> str:
    return ", ".join(f"{j}: {s_curve(j, bands, rows):.4f}" for j in (0.5, 0.7, 0.8, 0.9))


def _texts(values: Column) -> pa.Array:
    """A text column as Arrow strings on the host (n-grams are hashed there)."""
    arrow = fr.arrow_strings(values)
    if arrow is None:  # GPU check: cuDF strings come to the host for the n-gram hashes
        arrow = pa.array(fr.to_pandas(values), pa.large_string(), from_pandas=True)
    return arrow


def _chunks(texts: pa.Array) -> list[tuple[int, int]]:
    """Ranges of whole documents of about ``_CHUNK_BYTES`` of text each: n-gram hashing
    holds several 8-byte values per character, so a task's memory follows the chunk, not
    the partition."""
    sizes = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    ends = np.cumsum(sizes, dtype=np.int64)
    cuts = np.searchsorted(ends, np.arange(1, ends[-1] // _CHUNK_BYTES + 1) * _CHUNK_BYTES,
                           "right") if len(ends) else np.zeros(0, np.int64)
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts + 1, len(ends)), [len(ends)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _with_key(part: Frame) -> Frame:
    ids, lines = (fr.host_numbers(part[c]).astype(np.int64) for c in LINEAGE)
    if len(ids) and (ids.max() >= 1 << (63 - LINE_BITS) or lines.max() >= 1 << LINE_BITS):
        raise ValueError("near_dedup: more than 2**23 inputs or 2**40 lines in one input")
    keys = (ids << LINE_BITS) | lines
    return part.assign(**{_KEY: fr.library(part).Series(keys, index=part.index)})


def _key_parts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return keys >> LINE_BITS, keys & ((1 << LINE_BITS) - 1)


@register
class NearDedup(GlobalStep):
    """Remove documents whose `column` is a near-duplicate of an earlier document's:
    MinHash over word or character n-grams, LSH bands, every candidate pair verified by the
    exact Jaccard similarity of the two n-gram sets, clusters by connected components on
    the Dask cluster. The keeper of a cluster is its first row in input order (file, line),
    as `dedup` keeps. With `keep_removed`, a removed row's reason names it: `near-duplicate
    of input I line L (cluster of N; verified Jaccard J)`, I the keeper's input (its place,
    from 0, in the manifest's `inputs`), J its exact Jaccard with the keeper: a member of
    a transitive cluster that is not itself at `threshold` with the keeper stays. Documents
    without n-grams (null, empty, no word characters) are never near-duplicates. This step
    adds shuffles and reads its input twice."""

    op: Literal["near_dedup"] = "near_dedup"
    column: ColumnName = Field(description="The text column compared.", examples=["text"])
    unit: Literal["word", "char"] = Field("word", description=(
        "What an n-gram is made of: `word` (runs of letters, digits and `_`, lowercased) "
        "or `char` (characters, lowercased, whitespace runs as one space)."),
        examples=["char"])
    ngram: int = Field(5, ge=1, description=(
        "Tokens per n-gram (a document with fewer has one n-gram of all its tokens)."),
        examples=[3])
    bands: int = Field(14, ge=1, description=(
        "LSH bands: a pair of documents becomes a candidate when all `rows_per_band` "
        "MinHash values of one band agree, with probability `1 - (1 - j**r)**b` for "
        "Jaccard `j`. The defaults (14 bands of 8, 112 hashes) give, by Jaccard: "
        f"{_curve_text(14, 8)}; more bands raise recall below the threshold at the cost "
        "of more candidates to verify."), examples=[20])
    rows_per_band: int = Field(8, ge=1, description=(
        "MinHash values per band (`r`); the signature has `bands * rows_per_band` values. "
        "Larger makes the S-curve steeper and moves it right (see `bands`)."),
        examples=[10])
    threshold: float = Field(0.8, gt=0, le=1, description=(
        "The Jaccard similarity of two documents' n-gram sets at or above which a "
        "candidate pair is joined (verified exactly, never estimated)."), examples=[0.7])
    seed: int = Field(42, ge=0, description=(
        "Seed of the MinHash hash family (the same seed gives the same signatures on "
        "every backend)."), examples=[7])
    cluster_column: ColumnName | None = Field(None, description=(
        "A new int64 column with each kept row's cluster id: its keeper's key "
        "`input * 2**40 + line` (the input's place in the manifest's `inputs`, the line or "
        "record the quarantine would name), its own key when it has no near-duplicate "
        "(null: no column)."), examples=["near_cluster"])
    cluster_size_column: ColumnName | None = Field(None, description=(
        "A new int64 column with the number of documents in each kept row's cluster "
        "(1: no near-duplicate; null: no column)."), examples=["near_cluster_size"])
    action: Literal["drop", "label"] = Field("drop", description=(
        "`drop`: remove every member of a cluster but its keeper. `label`: remove nothing, "
        "only write the cluster columns (needs `cluster_column`): keep paraphrases for "
        "training but split by cluster (`sink.split.key: [<cluster_column>]`), so no "
        "near-duplicate crosses from train to test."), examples=["label"])
    scope: Literal["run", "dataset"] = Field("run", description=(
        "`run`: near-duplicates among the run's own rows. (`dataset`, against the "
        "published table, is not built yet.)"), examples=["run"])
    partition_bytes: ByteSize = Field(parse_bytes("64MiB"), description=(
        "Input bytes per shuffled partition: the shuffles make one partition per this "
        "much of the uploads' total size, whatever the block size or worker count."),
        examples=["32MiB"])

    @field_validator("scope")
    @classmethod
    def _run_only(cls, scope: str) -> str:
        if scope == "dataset":
            raise ValueError("near_dedup: scope 'dataset' (against the published table) is "
                             "not built yet; use scope: run")
        return scope

    @model_validator(mode="after")
    def _label_writes_clusters(self) -> NearDedup:
        if self.action == "label" and not self.cluster_column:
            raise ValueError("near_dedup: action 'label' writes only the cluster columns; "
                             "name one with cluster_column")
        return self

    def _new_columns(self) -> list[str]:
        return [c for c in (self.cluster_column, self.cluster_size_column) if c]

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        clash = [c for c in self._new_columns() if c in columns]
        if clash or len(set(self._new_columns())) < len(self._new_columns()):
            raise ValueError(f"{self.label}: cluster column(s) {clash or self._new_columns()} "
                             "already exist or repeat")
        return add_columns(columns, self._new_columns())

    def check_meta(self, meta: Frame) -> None:
        if self.column in meta.columns and not fr.is_string_like(meta[self.column]):
            raise ValueError(f"{self.label}: column {self.column!r} holds "
                             f"{fr.host_dtype(meta[self.column])}, not text")

    # ------------------------------------------------------------ per-partition kernels

    def _band_rows(self, part: Frame) -> Frame:
        """(key, bucket) for each band of each document with n-grams."""
        xp = fr.array_module(part)
        texts = _texts(part[self.column])
        buckets, present = [xp.zeros(0, dtype=xp.uint64)], [np.zeros(0, dtype=bool)]
        for lo, hi in _chunks(texts):
            shingles = shingle_hashes(texts[lo:hi], self.unit, self.ngram)
            signature = signatures(shingles, self.bands * self.rows_per_band, self.seed, xp)
            buckets.append(band_keys(signature, self.bands, self.rows_per_band, xp).ravel())
            present.append(shingles.counts > 0)
        keys = fr.array_values(part[_KEY])[xp.asarray(np.concatenate(present))]
        return fr.library(part).DataFrame({"key": xp.repeat(keys, self.bands),
                                           "bucket": xp.concatenate(buckets)})

    def _similarity(self, part: Frame) -> np.ndarray:
        """The exact Jaccard of each row's ``text_a`` and ``text_b``."""
        left, right = _texts(part["text_a"]), _texts(part["text_b"])
        return np.concatenate([np.zeros(0), *(
            pair_jaccard(left[lo:hi], right[lo:hi], self.unit, self.ngram)
            for lo, hi in _chunks(left))])  # chunked by the left texts' bytes

    def _verify(self, part: Frame) -> Frame:
        """The pairs whose exact Jaccard reaches the threshold (the edges)."""
        joined = self._similarity(part) >= self.threshold
        ends = {end: fr.host_numbers(part[end])[joined] for end in ("a", "b")}
        # GPU check: pairs are verified on the host, the edges go back to the device
        return fr.from_arrow(part, pa.table(ends))

    def _to_keeper(self, part: Frame) -> Frame:
        """Each member's exact Jaccard with its cluster's keeper."""
        return fr.from_arrow(part, pa.table({"node": fr.host_numbers(part["node"]),
                                             "jaccard": self._similarity(part)}))

    def _mark(self, part: Frame) -> Frame:
        """Rows in lineage order, removed where their cluster's label is not their key."""
        ordered = part.sort_values(LINEAGE).reset_index(drop=True)
        keys = fr.host_numbers(ordered[_KEY])
        linked = ordered["label"].notna().to_numpy()
        labels = np.where(linked, fr.to_pandas(ordered["label"]).fillna(0).to_numpy(
            dtype=np.int64), keys)
        sizes = np.where(linked, fr.to_pandas(ordered["size"]).fillna(1).to_numpy(
            dtype=np.int64), 1)
        near_keeper = fr.to_pandas(ordered["jaccard"]).to_numpy(
            dtype=float, na_value=0.0) >= self.threshold
        removed = (labels != keys) & near_keeper & (self.action == "drop")
        lib = fr.library(ordered)
        out = ordered.drop(columns=[_KEY, *_LINKS])
        new = {self.cluster_column: labels, self.cluster_size_column: sizes}
        for name, values in new.items():
            if name:
                out[name] = fr.to_nullable(lib.Series(values, index=out.index), "int64")
        out[REMOVED] = lib.Series(removed, index=out.index)
        if self.keep_removed:  # reasons are stored only with the removed rows
            jaccard = fr.to_pandas(ordered["jaccard"]).to_numpy(dtype=float, na_value=0.0)
            reasons = self._reasons(labels[removed], sizes[removed], jaccard[removed])
            column = np.full(len(out), None, dtype=object)
            column[removed] = reasons.to_numpy(zero_copy_only=False)
            out[REMOVED_REASON] = lib.Series(column, index=out.index, dtype="str")
        return out

    def _reasons(self, labels: np.ndarray, sizes: np.ndarray, jaccard: np.ndarray
                 ) -> pa.Array:
        """``near-duplicate of input I line L (cluster of N; verified Jaccard J)``: the
        keeper's lineage (I: its input's place in the manifest's ``inputs``), and the best
        Jaccard the row was verified at (floored to 3 decimals)."""
        inputs, lines = _key_parts(labels)
        text = [pc.cast(pa.array(v), pa.string()) for v in
                (inputs, lines, sizes, np.floor(jaccard * 1000) / 1000)]
        return pc.binary_join_element_wise(
            f"{self.label}: near-duplicate of input ", text[0], " line ", text[1],
            " (cluster of ", text[2], "; verified Jaccard ", text[3], ")", "")

    # ---------------------------------------------------------------------- the graph

    def apply_dask(self, live: Any, data_columns: list[str], input_bytes: int,
                   published: Any = None) -> Any:
        require_columns(data_columns, [self.column], self.label)
        self.check_meta(live._meta)
        partitions = max(1, math.ceil(input_bytes / self.partition_bytes))
        keyed = live.map_partitions(_with_key, meta=_with_key(live._meta),
                                    enforce_metadata=False)
        links = self._links(keyed, partitions)
        joined = keyed.merge(links, how="left", left_on=_KEY, right_on="node",
                             npartitions=partitions, broadcast=False)
        return joined.map_partitions(self._mark, meta=self._mark(joined._meta),
                                     enforce_metadata=False)

    def _links(self, keyed: dd.DataFrame, partitions: int) -> dd.DataFrame:
        """(node, label, size, jaccard) of every document with a verified near-duplicate
        (jaccard: a member's with its keeper, null for the keeper itself), persisted on the
        workers (label and size as nullable int64s, which a left merge keeps exact)."""
        band_meta = self._band_rows(keyed._meta)
        bands = keyed.map_partitions(self._band_rows, meta=band_meta, enforce_metadata=False)
        pairs = bands.shuffle(on="bucket", npartitions=partitions).map_partitions(
            _pairs, meta={"a": "int64", "b": "int64"}, enforce_metadata=False)
        pairs = pairs.shuffle(on=["a", "b"], npartitions=partitions).map_partitions(
            _distinct, meta=pairs._meta, enforce_metadata=False)
        texts = keyed[[_KEY, self.column]]
        pairs = _with_texts(pairs, texts, ("a", "b"), partitions)
        edges = pairs.map_partitions(self._verify, meta={"a": "int64", "b": "int64"},
                                     enforce_metadata=False)
        (edges,) = dask.persist(edges)
        labels = components(edges, partitions)
        sizes = labels.groupby("label").size(split_out=partitions).rename("size")
        members = labels[labels["node"] != labels["label"]]
        members = _with_texts(members, texts, ("node", "label"), partitions)
        to_keeper = members.map_partitions(
            self._to_keeper, meta={"node": "int64", "jaccard": "float64"},
            enforce_metadata=False)
        links = labels.merge(sizes.reset_index(), on="label", npartitions=partitions)
        links = links.merge(to_keeper, on="node", how="left", npartitions=partitions)
        links = links.map_partitions(_nullable, meta=_nullable(links._meta),
                                     enforce_metadata=False)
        (links,) = dask.persist(links)
        return links


def _with_texts(pairs: dd.DataFrame, texts: dd.DataFrame, ends: tuple[str, str],
                partitions: int) -> dd.DataFrame:
    """``pairs`` with the text of the document at each of its two ``ends`` (key columns),
    as ``text_a`` and ``text_b``."""
    (key, column), joined = texts.columns, pairs
    for end, name in zip(ends, ("text_a", "text_b"), strict=True):
        joined = joined.merge(texts.rename(columns={key: end, column: name}), on=end,
                              npartitions=partitions)
    return joined


def _pairs(part: Frame) -> Frame:
    """A bucket partition's candidate pairs (GPU check: paired on the host)."""
    a, b = bucket_pairs(fr.host_numbers(part["key"]), fr.host_numbers(part["bucket"]))
    return fr.from_arrow(part, pa.table({"a": a, "b": b}))


def _distinct(part: Frame) -> Frame:
    return part.drop_duplicates()


def _nullable(part: Frame) -> Frame:
    return part.assign(**{c: fr.to_nullable(part[c], "int64") for c in ("label", "size")})
