"""Near-duplicates across splits: the rows whose text is a near-duplicate of a row that the
sink's split puts in another split, which leaks an evaluation split into training.

The split is the sink's (``sink.split``: a stable hash of key columns), assigned to the rows
at the gate exactly as the sink will assign it (``assay.transforms.split``). The rows'
documents go through the ``near_dedup`` stages (``assay.transforms.near_dedup.edges``) with
their split as their group, and only pairs from different splits are verified: pairs
within a split are never compared. The verified cross-split pairs (few, when the splits do
not leak) are gathered in one task; each partition then finds its own rows among their
ends, by key, so the answer is zipped with the partition like the other requests'.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from assay.transforms import frame as fr
from assay.transforms.dedup import LINEAGE
from assay.transforms.frame import Frame
from assay.transforms.near_dedup.edges import GROUP, KEY, Shingling, verified_edges, with_key
from assay.transforms.split import assign_split
from assay.validation.expectations.requests import CrossSplitNearDuplicates

ANSWER_COLUMNS = {"row": "int64", "key": "int64", "split": "str", "partner": "int64",
                  "partner_split": "str", "jaccard": "float64"}
_EDGE_COLUMNS = ["a", "b", "group_a", "group_b", "jaccard"]


class Split(Protocol):
    """The sink's split (``pipelines.spec.SplitSpec``): key columns, shares and seed."""

    key: list[str]
    fractions: dict[str, float]
    seed: int


def _keyed(part: Frame, column: str, split: Split) -> Frame:
    """The partition's documents with their key and their split's number (``GROUP``)."""
    names = assign_split(part, split.key, split.fractions, split.seed)
    xp = fr.array_module(part)
    groups = xp.zeros(len(part), dtype=xp.int64)
    for number, name in enumerate(split.fractions):
        groups[fr.array_values(names == name)] = number
    keyed = with_key(part[[column, *LINEAGE]])
    return keyed.assign(**{GROUP: fr.library(part).Series(groups, index=part.index)})


def _across(group_a: np.ndarray, group_b: np.ndarray) -> np.ndarray:
    return group_a != group_b


def _edges_of(edges: pd.DataFrame) -> tuple[pd.DataFrame]:
    return (fr.to_pandas(edges[_EDGE_COLUMNS]),)  # a tuple: dask gathers it as one object


def _gather(chunks: Any) -> pd.DataFrame:
    frames = [edges for edges, in chunks]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=_EDGE_COLUMNS)


def _ends(part: Frame, edges: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per end of a cross-split pair that is a row of ``part``: its position, key
    and split, its partner's key and split, and their Jaccard."""
    keys = fr.host_numbers(part[KEY]).astype(np.int64)
    ends = {name: edges[name].to_numpy(dtype=np.int64) for name in _EDGE_COLUMNS[:4]}
    own = np.concatenate([ends["a"], ends["b"]])
    partner = np.concatenate([ends["b"], ends["a"]])
    own_group = np.concatenate([ends["group_a"], ends["group_b"]])
    partner_group = np.concatenate([ends["group_b"], ends["group_a"]])
    jaccard = np.tile(edges["jaccard"].to_numpy(dtype=float), 2)
    order = np.argsort(own, kind="stable")
    low = np.searchsorted(own[order], keys, "left")
    counts = np.searchsorted(own[order], keys, "right") - low
    rows = np.repeat(np.arange(len(keys)), counts)
    starts = np.repeat(low - np.cumsum(counts) + counts, counts)
    found = order[starts + np.arange(len(rows))]
    labels = np.asarray(names, dtype=object)
    return pd.DataFrame({
        "row": rows, "key": keys[rows], "split": labels[own_group[found]],
        "partner": partner[found], "partner_split": labels[partner_group[found]],
        "jaccard": jaccard[found]}).astype(ANSWER_COLUMNS)


def cross_split_pairs(rows: Any, request: CrossSplitNearDuplicates, split: Split) -> Any:
    """Lazily, per partition of ``rows`` (the gate's live rows with their lineage), the
    ends of its rows' verified cross-split near-duplicate pairs (``ANSWER_COLUMNS``)."""
    how = Shingling(request.column, request.unit, request.ngram, request.bands,
                    request.rows_per_band, request.seed)
    keyed = rows.map_partitions(_keyed, request.column, split,
                                meta=_keyed(rows._meta, request.column, split),
                                enforce_metadata=False)
    edges = verified_edges(keyed, how, request.threshold, max(1, rows.npartitions), _across)
    gathered = edges.reduction(chunk=_edges_of, aggregate=_gather, meta=object,
                               split_every=False)
    meta = pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in ANSWER_COLUMNS.items()})
    return keyed.map_partitions(_ends, gathered, list(split.fractions), meta=meta,
                                enforce_metadata=False, align_dataframes=False)
