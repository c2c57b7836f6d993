"""Dask glue: gates join the run's single graph, so the engine needs no expectation knowledge.

Everything here stays a dask-expr collection. A ``dask.delayed`` made with ``to_delayed()``
is optimised on its own, so computing it next to the write evaluates the upstream twice
(measured on dask 2026.7.1); collections computed together share one optimised graph.
Duplicate tables are single-partition frames: passed to ``map_partitions`` they are
broadcast to every partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from assay.transforms.frame import hash_rows
from assay.validation import repeats
from assay.validation.boundaries import previous_values
from assay.validation.expectations.frames import KEY_HASH
from assay.validation.expectations.ordering import PREVIOUS
from assay.validation.gate import GateEvaluator, Stats

Key = tuple[str, ...]


def duplicate_values(live: Any, keys: list[Key]) -> dict[Key, Any]:
    """For each key: a lazy one-partition frame of the key values that occur more than once,
    with their row hash in ``KEY_HASH`` (for ``frames.rows_in``).

    Single columns drop nulls (GE ignores them); compound keys keep them, grouped like
    pandas ``duplicated`` does (null equals null). Keys naming a missing column map to None:
    the expectation then reports GE's missing-column exception.

    Rows are first counted by a 64-bit hash of their key (a tree reduction over integers,
    far cheaper than grouping strings or timestamps); only rows whose hash repeats are
    gathered and grouped on their real values, so a hash collision never makes a
    duplicate.
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
        duplicates[key] = _repeated_keys(live[columns], drop_nulls=len(columns) == 1)
    return duplicates


def _hashed_keys(part: Any, drop_nulls: bool) -> Any:
    keys = part.dropna() if drop_nulls else part
    return keys.assign(**{KEY_HASH: hash_rows(keys, list(part.columns))})


def _candidates(part: Any, summary: repeats.Summary) -> Any:
    return part[part[KEY_HASH].isin(repeats.repeated(summary))]


def _repeated(candidates: Any) -> Any:
    columns = list(candidates.columns)
    sizes = candidates.groupby(columns, dropna=False, sort=False).size()
    return sizes[sizes > 1].reset_index()[columns]


def _first(chunk: pd.Series) -> Any:
    return chunk.iloc[0] if len(chunk) else None  # dask also calls it on the empty meta


def _hash_summary(part: Any) -> pd.Series:
    return pd.Series([repeats.summarize(part[KEY_HASH])], dtype=object)


def _merge_summaries(chunks: pd.Series) -> repeats.Summary:
    return repeats.merge([s for s in chunks if s is not None])


def _repeated_keys(keys: Any, drop_nulls: bool) -> Any:
    meta = _hashed_keys(keys._meta, drop_nulls)
    hashed = keys.map_partitions(_hashed_keys, drop_nulls, meta=meta)
    summary = hashed.map_partitions(
        _hash_summary, meta=pd.Series(dtype=object), enforce_metadata=False
    ).reduction(chunk=_first, combine=_merge_summaries, aggregate=_merge_summaries,
                meta=object, split_every=4)
    candidates = hashed.map_partitions(_candidates, summary, meta=meta)
    return candidates.repartition(npartitions=1).map_partitions(_repeated, meta=meta)


def _identity(part: Any) -> Any:
    return part


def _verdict(part: Any, evaluator: GateEvaluator, select: Callable[[Any], Any],
             keys: list[Key], *tables: Any) -> pd.Series:
    verdict = evaluator.evaluate(select(part), dict(zip(keys, tables, strict=True)))
    return pd.Series([verdict], dtype=object)


def gate_verdicts(frame: Any, evaluator: GateEvaluator, duplicates: dict[Key, Any],
                  select: Callable[[Any], Any] = _identity) -> Any:
    """Lazily one ``Verdict`` per partition of ``frame``, evaluated on ``select(partition)``
    (the engine selects the live rows). Statistics and routing both read the verdicts, so
    each expectation's masks are computed once per partition."""
    return frame.map_partitions(
        _verdict, evaluator, select, list(duplicates), *duplicates.values(),
        meta=pd.Series(dtype=object), enforce_metadata=False, align_dataframes=False,
    )


def _stats(chunk: pd.Series) -> Any:
    verdict = _first(chunk)
    return None if verdict is None else verdict.stats


def _combine(chunks: pd.Series, evaluator: GateEvaluator) -> Stats:
    return evaluator.combine([stats for stats in chunks if stats is not None])


def gate_statistics(verdicts: Any, evaluator: GateEvaluator) -> Any:
    """Lazily the combined Stats: a dask Scalar, so ``dask.compute`` returns the Stats."""
    return verdicts.reduction(
        chunk=_stats,
        aggregate=_combine,
        aggregate_kwargs={"evaluator": evaluator},
        meta=object,
        split_every=False,
    )
