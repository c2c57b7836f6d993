"""The ``near_dedup`` global step: remove documents whose text is a near-duplicate of an
earlier one's (Jaccard similarity of their n-gram sets at or above ``threshold``).

The run's live rows go through six stages, all on the Dask cluster:

1.-3. verified edges (``edges``): MinHash band keys per partition, candidate pairs per LSH
   bucket, each pair's exact Jaccard of the two n-gram sets: only pairs at or above
   ``threshold`` become edges;
4. connected components of the edges (``components``), the smallest document key of a
   component its label: up to ``SMALL_EDGES`` edges in one task, with the cluster sizes
   and each member's edge to its keeper, if it has one; above that, rounds of merges
   persisted on the workers;
5. each member's text compared with its keeper's (exact Jaccard), for the members that
   have no verified edge to it (all members above ``SMALL_EDGES`` edges); skipped when
   there are none;
6. the labels merged back to the rows, shuffled on the document key into one partition per
   ``partition_bytes`` of the rows in memory (summed in the band stage's pass).

A document's key is its lineage packed in an int64 (``edges``), so the smallest key of a
cluster is its member with the smallest lineage: the keeper, as ``dedup`` keeps. The
cluster id column holds the keeper's key (a row's own key when it has no near-duplicate).
Every choice is a minimum or a sort over keys, and the shuffles' partitions are set by the
inputs' size, so the output is the same for any worker count or read block size.

What is guaranteed: every edge was verified at Jaccard >= ``threshold``, and a row is
removed only when its own exact Jaccard with its cluster's keeper reaches ``threshold``
too (stage 5 compares each member with its keeper). Clusters are transitive (a chain
A~B~C is one cluster even when A and C are not near), but a member that is not near its
keeper stays: no document leaves for a kept twin it does not resemble. Its reason names
the keeper and that Jaccard.

On cuDF partitions the signatures and band keys are computed on the device (CuPy, through
``fr.array_module`` and ``fr.scatter_min``) from n-gram hashes made on the host; bucket
pairing and Jaccard verification run on the host. A GPU session must check that signatures,
clusters and the published shards equal the CPU backend's (``GPU check`` comments).

With ``scope: dataset`` an appending run's documents meet the published table's
(``published``): those join the edge stages with keys below every run key and only pairs
with a run document are compared. A run document with an edge to a published one leaves
for it (``action: drop``), the others cluster among themselves; ``action: label`` keeps the
whole components. A published document is never removed.

The step reads its input three times: for the band rows (persisted as candidate pairs),
for the candidates' texts, and to mark the rows; only keys, bucket keys, pairs, edges and
labels stay on the workers between the passes, so a worker's memory follows the partitions
(``partition_bytes``, the read's blocks, 512 KiB chunks of hashed text), not the corpus.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dask.utils import parse_bytes
from pydantic import Field, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import REMOVED, REMOVED_REASON, GlobalStep, register
from assay.transforms.dedup import in_lineage_order
from assay.transforms.frame import Frame
from assay.transforms.near_dedup.components import (
    SMALL_EDGES,
    components,
    concat,
    label_nodes,
    persisted,
)
from assay.transforms.near_dedup.edges import (
    GROUP,
    KEY,
    Shingling,
    candidate_pairs,
    key_parts,
    rows_bytes,
    similarity,
    verified_edges,
    verify_pairs,
    with_key,
    with_texts,
)
from assay.transforms.near_dedup.published import (
    INHERITED,
    TWIN,
    TWIN_JACCARD,
    PublishedTexts,
    not_both_published,
    published_documents,
    run_documents,
    twins,
    without,
)
from assay.transforms.near_dedup.published import reasons as published_reasons
from assay.transforms.params import ByteSize, ColumnName, add_columns, require_columns

if TYPE_CHECKING:  # imported where used (components.concat)
    import dask.dataframe as dd

_LINKS = ["node", "label", "size", "jaccard"]  # a run's links; a dataset-wide one's add
_PUBLISHED_LINKS = [INHERITED, TWIN, TWIN_JACCARD]  # (``published``) these where it has them


def s_curve(jaccard: float, bands: int, rows: int) -> float:
    """The probability that two documents of Jaccard ``jaccard`` share a band."""
    return 1 - (1 - jaccard**rows) ** bands


def _curve_text(bands: int, rows: int) -> str:
    return ", ".join(f"{j}: {s_curve(j, bands, rows):.4f}" for j in (0.5, 0.7, 0.8, 0.9))


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
    adds shuffles and reads its input three times. With `scope: dataset` an appending run also
    removes documents near a published one."""

    op: Literal["near_dedup"] = "near_dedup"
    heap_temporaries: ClassVar[bool] = True
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
        "(null: no column). With `scope: dataset` and `action: label`, a cluster holding "
        "published documents takes the cluster id its first published document has in "
        "the table (so a split by cluster puts the run's near-duplicates in its split), "
        "or, where the table has no such value, that document's negative key "
        "`file * 2**40 + row - 2**62`. Ids are unique within a run, not across runs."),
        examples=["near_cluster"])
    cluster_size_column: ColumnName | None = Field(None, description=(
        "A new int64 column with the number of documents in each kept row's cluster "
        "(1: no near-duplicate; null: no column). With `scope: dataset` and `action: "
        "label` it counts the published documents the run's documents joined (published "
        "documents are not compared with each other)."), examples=["near_cluster_size"])
    action: Literal["drop", "label"] = Field("drop", description=(
        "`drop`: remove every member of a cluster but its keeper. `label`: remove nothing, "
        "only write the cluster columns (needs `cluster_column`): keep paraphrases for "
        "training but split by cluster (`sink.split.key: [<cluster_column>]`), so no "
        "near-duplicate crosses from train to test."), examples=["label"])
    scope: Literal["run", "dataset"] = Field("run", description=(
        "`run`: near-duplicates among the run's own rows. `dataset`: an appending run "
        "also removes each of its documents that is a near-duplicate (verified Jaccard "
        "`>= threshold`) of a document in the published table's current version, with "
        "the reason `near-duplicate of a row in version V (file F, row R; verified Jaccard "
        "J)` (F: the Parquet file, relative to the table; R: its row there, from 0; the "
        "published neighbour first in file order); the run's other documents are compared "
        "among themselves as with `run`. Published documents are never removed or "
        "changed, nor compared with each other. Each run reads the published `column` and "
        "hashes it again, so its cost grows with the table. A first version or an "
        "overwrite compares the run's rows only, as `run`."), examples=["dataset"])
    partition_bytes: ByteSize = Field(parse_bytes("16MiB"), description=(
        "Bytes per shuffled partition, which bounds a worker's memory: the shuffles of "
        "band rows and pairs make one partition per this much of the uploads' total size, "
        "the rows' final merge one per this much of the rows in memory (their text and "
        "values, often several times the compressed upload), whatever the block size or "
        "worker count. A worker holds several times one partition of rows at its peak."),
        examples=["32MiB"])

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

    @property
    def shingling(self) -> Shingling:
        return Shingling(self.column, self.unit, self.ngram, self.bands, self.rows_per_band,
                         self.seed)

    def _to_keeper(self, part: Frame) -> Frame:
        """Each member's exact Jaccard with its cluster's keeper."""
        return fr.from_arrow(part, pa.table({"node": fr.host_numbers(part["node"]),
                                             "jaccard": similarity(part, self.shingling)}))

    def _mark(self, part: Frame, published: PublishedTexts | None) -> Frame:
        """Rows in lineage order, removed where their cluster's label is not their key
        (and they are near it), or where they have a published twin (``TWIN``). The
        cluster id is the label, or the published keeper's own cluster id where the keeper
        is a published document that has one (``INHERITED``, ``action: label`` only)."""
        ordered = in_lineage_order(part)
        keys = fr.host_numbers(ordered[KEY])
        linked = ordered["label"].notna().to_numpy()
        labels = np.where(linked, fr.to_pandas(ordered["label"]).fillna(0).to_numpy(
            dtype=np.int64), keys)
        sizes = np.where(linked, fr.to_pandas(ordered["size"]).fillna(1).to_numpy(
            dtype=np.int64), 1)
        clusters = labels
        if INHERITED in ordered.columns:
            inherited = fr.to_pandas(ordered[INHERITED])
            clusters = np.where(inherited.notna().to_numpy(),
                                inherited.fillna(0).to_numpy(dtype=np.int64), labels)
        near_keeper = fr.to_pandas(ordered["jaccard"]).to_numpy(
            dtype=float, na_value=0.0) >= self.threshold
        near_published = (ordered[TWIN].notna().to_numpy() if TWIN in ordered.columns
                          else np.zeros(len(ordered), dtype=bool))
        removed = (((labels != keys) & near_keeper) | near_published) & (
            self.action == "drop")
        lib = fr.library(ordered)
        out = ordered.drop(columns=[c for c in (KEY, *_LINKS, *_PUBLISHED_LINKS)
                                    if c in ordered.columns])
        new = {self.cluster_column: clusters, self.cluster_size_column: sizes}
        for name, values in new.items():
            if name:
                out[name] = fr.to_nullable(lib.Series(values, index=out.index), "int64")
        out[REMOVED] = lib.Series(removed, index=out.index)
        if self.keep_removed:  # reasons are stored only with the removed rows
            jaccard = fr.to_pandas(ordered["jaccard"]).to_numpy(dtype=float, na_value=0.0)
            column = np.full(len(out), None, dtype=object)
            from_run = removed & ~near_published
            column[from_run] = self._reasons(labels[from_run], sizes[from_run],
                                             jaccard[from_run]).to_numpy(zero_copy_only=False)
            if published is not None and near_published.any():
                twin_jaccard = fr.to_pandas(ordered[TWIN_JACCARD]).to_numpy(dtype=float)
                column[near_published] = published_reasons(
                    self.label, published,
                    fr.to_pandas(ordered[TWIN])[near_published].to_numpy(dtype=np.int64),
                    twin_jaccard[near_published]).to_numpy(zero_copy_only=False)
            out[REMOVED_REASON] = lib.Series(column, index=out.index, dtype="str")
        return out

    def _reasons(self, labels: np.ndarray, sizes: np.ndarray, jaccard: np.ndarray
                 ) -> pa.Array:
        """``near-duplicate of input I line L (cluster of N; verified Jaccard J)``: the
        keeper's lineage (I: its input's place in the manifest's ``inputs``), and the best
        Jaccard the row was verified at (floored to 3 decimals)."""
        inputs, lines = key_parts(labels)
        text = [pc.cast(pa.array(v), pa.string()) for v in
                (inputs, lines, sizes, np.floor(jaccard * 1000) / 1000)]
        return pc.binary_join_element_wise(
            f"{self.label}: near-duplicate of input ", text[0], " line ", text[1],
            " (cluster of ", text[2], "; verified Jaccard ", text[3], ")", "")

    # ---------------------------------------------------------------------- the graph

    def apply_dask(self, live: Any, data_columns: list[str], input_bytes: int,
                   published: PublishedTexts | None = None) -> Any:
        """``published``: the published table's files, given to an appending run of
        ``scope: dataset`` (None: compare the run's rows only)."""
        require_columns(data_columns, [self.column], self.label)
        self.check_meta(live._meta)
        keyed = live.map_partitions(with_key, meta=with_key(live._meta),
                                    enforce_metadata=False)
        links, partitions = self._links(keyed, input_bytes, published)
        if partitions == 1:  # a merge with one partition keeps the other side's partitions:
            keyed = keyed.repartition(npartitions=1)  # the output would follow the blocks
        joined = keyed.merge(links, how="left", left_on=KEY, right_on="node",
                             npartitions=partitions, broadcast=False)
        return joined.map_partitions(self._mark, published,
                                     meta=self._mark(joined._meta, published),
                                     enforce_metadata=False)

    def _links(self, keyed: dd.DataFrame, input_bytes: int,
               published: PublishedTexts | None) -> tuple[dd.DataFrame, int]:
        """(node, label, size, jaccard) of every document with a verified near-duplicate
        (jaccard: a member's with its keeper, null for the keeper itself), persisted on the
        workers (label and size as nullable int64s, which a left merge keeps exact), and
        the partitions of the rows' merge. An edge set small enough is labelled in one
        task; with ``published``, see ``_dataset_links``.

        The candidate pairs are persisted before their texts are joined, so the band stage
        streams through the input (keeping only band rows) and the verification reads it
        again, rather than every input partition staying on the workers until the pairs
        exist. The same pass sums the rows' bytes in memory (``rows_bytes``): the rows'
        merge gets one partition per ``partition_bytes`` of them, since text held in
        memory is several times its compressed upload."""
        if published is not None:
            partitions = max(1, math.ceil((input_bytes + published.bytes)
                                          / self.partition_bytes))
            return self._dataset_links(keyed, partitions, published), partitions
        partitions = max(1, math.ceil(input_bytes / self.partition_bytes))
        pairs = candidate_pairs(keyed, self.shingling, partitions)
        held = keyed.map_partitions(rows_bytes, meta=(None, "int64"),
                                    enforce_metadata=False).sum()
        pairs, held = persisted(pairs, held)
        rows = max(partitions, math.ceil(int(held.compute()) / self.partition_bytes))
        edges = verify_pairs(pairs, keyed, self.shingling, self.threshold, partitions)
        edges, count = persisted(edges, edges.shape[0])
        if int(count.compute()) > SMALL_EDGES:
            return self._spread_links(edges[["a", "b"]], keyed, partitions), rows
        table = edges.repartition(npartitions=1).map_partitions(
            _cluster_table, meta=_cluster_table(edges._meta), enforce_metadata=False)
        table, unchecked = persisted(table, table["unchecked"].sum())
        links = table[_LINKS]
        if int(unchecked.compute()):  # members without an edge to their keeper
            members = table[table["unchecked"]][["node", "label"]]
            checked = self._keeper_jaccard(members, keyed, partitions)
            links = links.merge(checked.repartition(npartitions=1), on="node", how="left",
                                suffixes=("", "_keeper"))
            links = links.map_partitions(_with_keeper_jaccard, meta=links._meta[_LINKS],
                                         enforce_metadata=False)
        # as many partitions as the rows' merge makes: one alone would be joined to each
        # input partition as it is, and the output would follow the read's blocks
        return self._persisted(links.repartition(npartitions=rows)), rows

    def _spread_links(self, edges: dd.DataFrame, keyed: dd.DataFrame, partitions: int
                      ) -> dd.DataFrame:
        """``_links`` of an edge set too large for one task: components, sizes and every
        member's check with its keeper as Dask merges."""
        labels = components(edges, partitions)
        sizes = labels.groupby("label").size(split_out=partitions).rename("size")
        members = labels[labels["node"] != labels["label"]]
        links = labels.merge(sizes.reset_index(), on="label", npartitions=partitions)
        links = links.merge(self._keeper_jaccard(members, keyed, partitions), on="node",
                            how="left", npartitions=partitions)
        return self._persisted(links)

    def _dataset_links(self, keyed: dd.DataFrame, partitions: int,
                       published: PublishedTexts) -> dd.DataFrame:
        """``_links`` (and ``INHERITED``, ``TWIN``, ``TWIN_JACCARD`` as ``published`` says
        per action) of the run's documents joined by the published ones: only pairs with a
        run document are compared, and the shuffles (``partitions``) are sized by both."""
        inherit = self.cluster_column if self.action == "label" \
            and self.cluster_column in published.columns else None
        olds = published_documents(published, self.column, inherit, keyed._meta)
        documents = concat([run_documents(keyed, self.column),
                            olds[[KEY, self.column, GROUP]]])
        olds = olds[[KEY, INHERITED]] if inherit else None
        edges = verified_edges(documents, self.shingling, self.threshold, partitions,
                               not_both_published)
        (edges,) = persisted(edges)
        near_published = None
        if self.action == "drop":  # twins need the edges' Jaccard
            near_published = twins(edges, partitions)
            edges = without(edges, near_published, partitions)
        labels = components(edges[["a", "b"]], partitions)
        sizes = labels.groupby("label").size(split_out=partitions).rename("size")
        members = labels[(labels["node"] != labels["label"]) & (labels["node"] >= 0)]
        links = labels.merge(sizes.reset_index(), on="label", npartitions=partitions)
        links = links.merge(self._keeper_jaccard(members, documents, partitions), on="node",
                            how="left", npartitions=partitions)
        if olds is not None:  # a published keeper's own cluster id
            links = links.merge(olds.rename(columns={KEY: "label"}), on="label", how="left",
                                npartitions=partitions)
        if near_published is not None:
            links = links.merge(near_published, on="node", how="outer",
                                npartitions=partitions)
        return self._persisted(links)

    def _keeper_jaccard(self, members: dd.DataFrame, keyed: dd.DataFrame, partitions: int
                        ) -> dd.DataFrame:
        """(node, jaccard): each member's exact Jaccard with its keeper (``label``)."""
        members = with_texts(members, keyed, ("node", "label"), self.column, partitions)
        return members.map_partitions(self._to_keeper, meta={"node": "int64",
                                                             "jaccard": "float64"},
                                      enforce_metadata=False)

    @staticmethod
    def _persisted(links: dd.DataFrame) -> dd.DataFrame:
        links = links.map_partitions(_nullable, meta=_nullable(links._meta),
                                     enforce_metadata=False)
        (links,) = persisted(links)
        return links


def _cluster_table(edges: Frame) -> Frame:
    """All of a run's edges (a, b, jaccard) in one partition as (node, label, size, jaccard,
    unchecked): a member's Jaccard with its keeper is its edge's when the two share one (the
    keeper is the smallest key, so it is the edge's ``a``); ``unchecked`` marks the members
    that share none, whose Jaccard is still to be computed (NaN until then). GPU check:
    labelled on the host, the table goes back to the device."""
    a, b = fr.host_numbers(edges["a"]), fr.host_numbers(edges["b"])
    jaccard = fr.to_pandas(edges["jaccard"]).to_numpy(dtype=float)
    nodes, labels = label_nodes(a, b)
    _, cluster, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    at = np.searchsorted(nodes, b)
    direct = labels[at] == a
    near = np.full(len(nodes), np.nan)
    near[at[direct]] = jaccard[direct]
    unchecked = (labels != nodes) & np.isnan(near)
    return fr.from_arrow(edges, pa.table({"node": nodes, "label": labels,
                                          "size": sizes[cluster].astype(np.int64),
                                          "jaccard": near, "unchecked": unchecked}))


def _with_keeper_jaccard(part: Frame) -> Frame:
    """The links with each unchecked member's Jaccard (``jaccard_keeper``) filled in."""
    return part.assign(jaccard=part["jaccard"].fillna(part["jaccard_keeper"]))[_LINKS]


def _nullable(part: Frame) -> Frame:
    return part.assign(**{c: fr.to_nullable(part[c], "int64") for c in ("label", "size")})
