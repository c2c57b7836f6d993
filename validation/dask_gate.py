"""Dask glue: gates join the run's single graph, so the engine needs no expectation knowledge.

Everything here stays a dask-expr collection. A ``dask.delayed`` made with ``to_delayed()``
is optimised on its own, so computing it next to the write evaluates the upstream twice
(measured on dask 2026.7.1); collections computed together share one optimised graph.
Duplicate tables are single-partition frames: passed to ``map_partitions`` they are
broadcast to every partition.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from validation.boundaries import previous_values
from validation.expectations.ordering import PREVIOUS
from validation.gate import GateEvaluator, Stats

Key = tuple[str, ...]


def duplicate_values(live: Any, keys: list[Key]) -> dict[Key, Any]:
    """For each key: a lazy one-partition frame of the key values that occur more than once.

    Single columns drop nulls (GE ignores them); compound keys keep them, grouped like
    pandas ``duplicated`` does (null equals null). Keys naming a missing column map to None:
    the expectation then reports GE's missing-column exception.
    """
    duplicates: dict[Key, Any] = {}
    for key in keys:
        if key[0] == PREVIOUS:  # a boundary table, not a duplicate table (ordering.py)
            duplicates[key] = previous_values(live, key[1]) if key[1] in live.columns else None
            continue
        columns = list(key)
        if not set(columns) <= set(live.columns):
            duplicates[key] = None
            continue
        frame = live[columns].dropna() if len(columns) == 1 else live[columns]
        sizes = frame.groupby(columns, dropna=False).size()
        repeated = sizes[sizes > 1].reset_index()
        duplicates[key] = repeated[columns].repartition(npartitions=1)
    return duplicates


def _unpack(keys: list[Key], tables: tuple[Any, ...]) -> dict[Key, Any]:
    return dict(zip(keys, tables, strict=True))


def _partition_statistics(
    part: Any, evaluator: GateEvaluator, keys: list[Key], *tables: Any
) -> pd.Series:
    stats = evaluator.partition_statistics(part, _unpack(keys, tables))
    return pd.Series([stats], dtype=object)


def _first(chunk: pd.Series) -> Any:
    return chunk.iloc[0] if len(chunk) else None  # dask also calls it on the empty meta


def _combine(chunks: pd.Series, evaluator: GateEvaluator) -> Stats:
    return evaluator.combine([stats for stats in chunks if stats is not None])


def gate_statistics(live: Any, evaluator: GateEvaluator, duplicates: dict[Key, Any]) -> Any:
    """Lazily the combined Stats: a dask Scalar, so ``dask.compute`` returns the Stats itself."""
    keys = list(duplicates)
    per_partition = live.map_partitions(
        _partition_statistics,
        evaluator,
        keys,
        *duplicates.values(),
        meta=pd.Series(dtype=object),
        enforce_metadata=False,
        align_dataframes=False,
    )
    return per_partition.reduction(
        chunk=_first,
        aggregate=_combine,
        aggregate_kwargs={"evaluator": evaluator},
        meta=object,
        split_every=False,
    )
