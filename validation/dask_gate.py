"""Dask glue: gates join the run's single graph, so the engine needs no expectation knowledge.

Everything here stays a dask-expr collection. A ``dask.delayed`` made with ``to_delayed()``
is optimised on its own, so computing it next to the write evaluates the upstream twice
(measured on dask 2026.7.1); collections computed together share one optimised graph.
The answers to the expectations' requests are frames passed to ``map_partitions`` next to
the data, each with one partition per partition of the data, zipped with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

import pandas as pd

from assay.validation.boundaries import previous_values
from assay.validation.duplicates import duplicate_rows
from assay.validation.expectations.requests import (
    CrossSplitNearDuplicates,
    DuplicatesOf,
    PreviousValue,
    Request,
)
from assay.validation.gate import GateEvaluator, Stats
from assay.validation.near_splits import Split, cross_split_pairs


@dataclass(frozen=True)
class GateContext:
    """What some requests need beyond the gate's data columns: the live rows with their
    lineage (a row's key is its input and line), and the sink's split (None: no split)."""

    rows: Any
    split: Split | None


def answer_requests(live: Any, requests: list[Request], context: GateContext | None = None
                    ) -> dict[Request, Any]:
    """Lazily the answer to each request, built on ``live`` (the rows the gate evaluates);
    see ``requests`` for what each answer holds. A request naming a missing column is
    answered None: the expectation then reports GE's missing-column exception."""
    return {request: _answer(live, request, context) for request in requests}


def _answer(live: Any, request: Request, context: GateContext | None) -> Any:
    match request:
        case CrossSplitNearDuplicates(column=column):
            if context is None or context.split is None or column not in live.columns:
                return None
            return cross_split_pairs(context.rows, request, context.split)
        case DuplicatesOf(columns):
            if not set(columns) <= set(live.columns):
                return None
            return duplicate_rows(live, list(columns), drop_nulls=len(columns) == 1)
        case PreviousValue(column):
            return previous_values(live, column) if column in live.columns else None
        case _:
            assert_never(request)


def _first(chunk: pd.Series) -> Any:
    return chunk.iloc[0] if len(chunk) else None  # dask also calls it on the empty meta


def _identity(part: Any) -> Any:
    return part


def _begin(part: Any, evaluator: GateEvaluator, select: Callable[[Any], Any]) -> pd.Series:
    return pd.Series([evaluator.begin(select(part))], dtype=object)


def _conclude(begun: pd.Series, evaluator: GateEvaluator, requests: list[Request],
              *answers: Any) -> pd.Series:
    verdict = evaluator.conclude(begun.iloc[0], dict(zip(requests, answers, strict=True)))
    return pd.Series([verdict], dtype=object)


def gate_verdicts(frame: Any, evaluator: GateEvaluator, answers: dict[Request, Any],
                  select: Callable[[Any], Any] = _identity) -> Any:
    """Lazily one ``Verdict`` per partition of ``frame``, evaluated on ``select(partition)``
    (the engine selects the live rows) with the ``answers`` of ``answer_requests``.
    Statistics and routing both read the verdicts, so each expectation's masks are computed
    once per partition. The expectations that need no answers run in tasks of their own
    (``GateEvaluator.begin``), which the scheduler runs while the answers (a sort of every
    key hash, one task) are built."""
    begun = frame.map_partitions(_begin, evaluator, select, meta=pd.Series(dtype=object),
                                 enforce_metadata=False)
    return begun.map_partitions(
        _conclude, evaluator, list(answers), *answers.values(),
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
