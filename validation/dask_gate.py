"""Dask glue: gates join the run's single graph, so the engine needs no expectation knowledge.

Everything here stays a dask-expr collection. A ``dask.delayed`` made with ``to_delayed()``
is optimised on its own, so computing it next to the write evaluates the upstream twice
(measured on dask 2026.7.1); collections computed together share one optimised graph.
The answers to the expectations' requests are frames passed to ``map_partitions`` next to
the data: a duplicate table has one partition, broadcast to every partition; a boundary
table has one per partition, zipped with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

import pandas as pd

from assay.transforms.frame import hash_rows
from assay.validation import repeats
from assay.validation.boundaries import previous_values
from assay.validation.expectations.frames import KEY_HASH
from assay.validation.expectations.requests import DuplicatesOf, PreviousValue, Request
from assay.validation.gate import GateEvaluator, Stats


def answer_requests(live: Any, requests: list[Request]) -> dict[Request, Any]:
    """Lazily the answer to each request, built on ``live`` (the rows the gate evaluates);
    see ``requests`` for what each answer holds. A request naming a missing column is
    answered None: the expectation then reports GE's missing-column exception."""
    return {request: _answer(live, request) for request in requests}


def _answer(live: Any, request: Request) -> Any:
    match request:
        case DuplicatesOf(columns):
            if not set(columns) <= set(live.columns):
                return None
            return _repeated_keys(live[list(columns)], drop_nulls=len(columns) == 1)
        case PreviousValue(column):
            return previous_values(live, column) if column in live.columns else None
        case _:
            assert_never(request)


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
    """A one-partition frame of the key values that occur more than once, with their row
    hash in ``KEY_HASH`` (for ``frames.rows_in``).

    Rows are first counted by a 64-bit hash of their key (a tree reduction over integers,
    far cheaper than grouping strings or timestamps); only rows whose hash repeats are
    gathered and grouped on their real values, so a hash collision never makes a
    duplicate.
    """
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
             requests: list[Request], *tables: Any) -> pd.Series:
    verdict = evaluator.evaluate(select(part), dict(zip(requests, tables, strict=True)))
    return pd.Series([verdict], dtype=object)


def gate_verdicts(frame: Any, evaluator: GateEvaluator, answers: dict[Request, Any],
                  select: Callable[[Any], Any] = _identity) -> Any:
    """Lazily one ``Verdict`` per partition of ``frame``, evaluated on ``select(partition)``
    (the engine selects the live rows) with the ``answers`` of ``answer_requests``.
    Statistics and routing both read the verdicts, so each expectation's masks are computed
    once per partition."""
    return frame.map_partitions(
        _verdict, evaluator, select, list(answers), *answers.values(),
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
