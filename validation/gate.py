"""Evaluating a suite on partitions: per-partition statistics, their fold, GE-shaped results.

The evaluator is plain Python and picklable; ``assay.validation.dask_gate`` wires it into a graph.
An expectation that fails to evaluate where GE's engine raises too (a missing column,
incomparable types) becomes a failed result with ``exception_info``, never a crashed run.
An appending run judges each expectation at its scope (``scope``): the run's statistics, or
those merged with what the published version kept (``kept``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from assay.transforms.frame import array_module, array_values, library
from assay.transforms.masks import as_mask, reasons
from assay.validation.expectations import Expectation, ExpectationError, Table
from assay.validation.expectations.map import MapExpectation
from assay.validation.expectations.requests import Answers, Request
from assay.validation.expectations.shared import partition_scope
from assay.validation.kept import Kept
from assay.validation.scope import Scope, scopes_of
from assay.validation.suite import Suite


@dataclass(frozen=True)
class Failed:
    """An expectation that raised; the first message wins when partials are folded."""

    message: str


@dataclass
class Stats:
    """Small, picklable statistics of some partitions (one partial per expectation)."""

    rows: int
    columns: tuple[str, ...] | None
    partials: list[Any]


@dataclass
class Verdict:
    """One partition's outcome: statistics, per row whether it failed a row-level
    expectation (``failed``), and which, for the failing rows only (``reasons``, indexed
    like them: the router needs no more, and most rows pass)."""

    stats: Stats
    failed: Any
    reasons: Any


@dataclass
class Evaluation:
    """A partition being evaluated: per expectation evaluated so far, keyed by its place
    in the suite, its partial and (row-level ones) its failing rows with their reason."""

    part: Any
    partials: dict[int, Any] = field(default_factory=dict)
    rows: dict[int, tuple[Any, str]] = field(default_factory=dict)


@dataclass
class GateResult:
    success: bool
    ge_result: dict[str, Any]
    row_level_failed: list[str] = field(default_factory=list)
    aggregate_failed: list[str] = field(default_factory=list)


_EVALUATION_ERRORS = (ExpectationError, TypeError)
_UNKNOWN = object()  # a dataset statistic the published version did not keep


def _partial(expectation: Expectation, part: Any, answers: Answers) -> Any:
    """The expectation's partial of ``part``, or Failed where it cannot be evaluated."""
    try:
        return expectation.partial(part, answers)
    except _EVALUATION_ERRORS as exc:
        return Failed(str(exc))


def _failing_reasons(failed: Any, parts: list[tuple[Any, str]]) -> Any:
    """``reasons`` of the rows where ``failed`` holds, indexed like them."""
    at = array_module(failed).flatnonzero(array_values(failed))
    lib = library(failed)
    rows = lib.Series(at, index=failed.index[at])
    return reasons(rows, [(lib.Series(array_values(as_mask(mask))[at]), text)
                          for mask, text in parts])


def _merge_one(expectation: Expectation, a: Any, b: Any) -> Any:
    """Two partials of one expectation folded; a failed evaluation wins."""
    return a if isinstance(a, Failed) else b if isinstance(b, Failed) else expectation.merge(a, b)


class GateEvaluator:
    """Evaluates one gate's suite natively; see the module docstring."""

    def __init__(self, suite: Suite, gate_name: str, scope: Scope = "dataset") -> None:
        self.suite = suite
        self.gate_name = gate_name
        self.scopes = scopes_of(suite.expectations, scope)
        asked = (request for e in suite.expectations for request in e.requests)
        self.requests: list[Request] = list(dict.fromkeys(asked))  # each distinct one once

    def __dask_tokenize__(self) -> Any:
        configs = [e.config() for e in self.suite.expectations]
        return ("GateEvaluator", self.gate_name, self.suite.name, repr(configs))

    def evaluate(self, part: Any, answers: Answers) -> Verdict:
        """The partition's statistics and row failures, each expectation's masks computed
        once for both. Failing rows are flagged whatever ``mostly`` allows: ``mostly``
        decides the gate's success, the quarantine takes every unexpected row."""
        return self.conclude(self.begin(part), answers)

    def begin(self, part: Any) -> Evaluation:
        """``part`` evaluated by the expectations that need no answers to requests, so
        that the graph runs them while the table-wide answers are being built."""
        return self._run(Evaluation(part), {}, answered=False)

    def conclude(self, begun: Evaluation, answers: Answers) -> Verdict:
        """``begin``'s evaluation completed by the expectations that need ``answers``."""
        done = self._run(begun, answers, answered=True)
        order = range(len(self.suite.expectations))
        parts = [done.rows[i] for i in order if i in done.rows]
        part = done.part
        flags = array_module(part).zeros(len(part), dtype=bool)
        for rows, _ in parts:  # arrays: no index alignment per mask
            flags |= array_values(rows)
        failed = library(part).Series(flags, index=part.index)
        stats = Stats(len(part), tuple(part.columns), [done.partials[i] for i in order])
        return Verdict(stats, failed, _failing_reasons(failed, parts))

    def _run(self, evaluation: Evaluation, answers: Answers, answered: bool) -> Evaluation:
        with partition_scope():
            for index, expectation in enumerate(self.suite.expectations):
                if bool(expectation.requests) == answered:
                    self._evaluate_one(index, expectation, evaluation, answers)
        return evaluation

    def _evaluate_one(self, index: int, expectation: Expectation, evaluation: Evaluation,
                      answers: Answers) -> None:
        part = evaluation.part
        if not isinstance(expectation, MapExpectation):
            evaluation.partials[index] = _partial(expectation, part, answers)
            return
        try:
            considered, rows = expectation.masks(part, answers)
        except _EVALUATION_ERRORS as exc:  # reported as a failed result, nothing routed
            evaluation.partials[index] = Failed(str(exc))
            return
        evaluation.partials[index] = expectation.summarize(part, considered, rows, answers)
        evaluation.rows[index] = (rows, f"{self.gate_name}: {expectation.label}")

    def combine(self, stats: list[Stats]) -> Stats:
        empty = Stats(0, None, [e.empty() for e in self.suite.expectations])
        return reduce(self._merge, stats, empty)

    def _merge(self, a: Stats, b: Stats) -> Stats:
        partials = [_merge_one(e, x, y)
                    for e, x, y in zip(self.suite.expectations, a.partials, b.partials,
                                       strict=True)]
        return Stats(a.rows + b.rows, a.columns or b.columns, partials)

    def rereads(self, published: Kept) -> list[Expectation]:
        """The dataset-scope expectations whose statistic the published version did not
        keep: their partial over it must be computed from its rows."""
        return [e for e, scope in zip(self.suite.expectations, self.scopes, strict=True)
                if scope == "dataset" and e.statistic is not None
                and e.statistic not in published.statistics]

    @staticmethod
    def reread(expectations: list[Expectation], parts: Iterable[Any]) -> dict[str, Any]:
        """The partial of each expectation's statistic over ``parts`` (the published rows,
        a frame at a time: memory is one frame and the partials)."""
        totals = [e.empty() for e in expectations]
        for part in parts:
            with partition_scope():
                totals = [_merge_one(e, total, _partial(e, part, {}))
                          for e, total in zip(expectations, totals, strict=True)]
        statistics: dict[str, Any] = {}
        for expectation, total in zip(expectations, totals, strict=True):
            if isinstance(statistics.get(expectation.statistic, Failed("")), Failed):
                statistics[expectation.statistic] = total  # a failed one yields to another
        return statistics

    def dataset(self, stats: Stats, published: Kept | None) -> Stats:
        """The gate's statistics over the dataset after this run: the run's where it is the
        whole dataset (``published`` None: an overwrite, a first version), else merged with
        the published version's; ``_UNKNOWN`` for a statistic that version did not keep.
        A partial that is no kept statistic (a column's dtype) is the run's: an append
        keeps the table's columns and types."""
        if published is None:
            return stats
        partials = [
            p if e.statistic is None else
            _merge_one(e, published.statistics[e.statistic], p)
            if e.statistic in published.statistics else _UNKNOWN
            for e, p in zip(self.suite.expectations, stats.partials, strict=True)
        ]
        return Stats(published.rows + stats.rows, stats.columns or published.columns, partials)

    def kept(self, dataset: Stats) -> Kept:
        """What to keep beside the version this run publishes (see ``kept``)."""
        statistics: dict[str, Any] = {}
        for expectation, partial in zip(self.suite.expectations, dataset.partials, strict=True):
            if expectation.statistic is not None and not isinstance(partial, Failed) \
                    and partial is not _UNKNOWN:
                statistics.setdefault(expectation.statistic, partial)
        return Kept(dataset.rows, dataset.columns, statistics)

    def result(self, stats: Stats, dataset: Stats | None = None) -> GateResult:
        """GE's result: each expectation judged on the run's ``stats`` or, at dataset
        scope, on ``dataset`` (``dataset`` of the run; None: the run is the dataset)."""
        dataset = dataset or stats
        results = []
        for e, scope, own, whole in zip(self.suite.expectations, self.scopes, stats.partials,
                                        dataset.partials, strict=True):
            judged = dataset if scope == "dataset" else stats
            partial = whole if scope == "dataset" else own
            if partial is _UNKNOWN:
                raise ValueError(f"{e.label}: no dataset statistic (reread it first)")
            results.append(self._expectation_result(e, partial, scope,
                                                    Table(judged.rows, judged.columns)))
        row_level, aggregate = [], []
        for expectation, outcome in zip(self.suite.expectations, results, strict=True):
            if not outcome["success"]:
                raised = outcome["exception_info"]["raised_exception"]
                (row_level if expectation.row_level and not raised else aggregate).append(
                    expectation.type
                )
        passed = sum(r["success"] for r in results)
        ge_result = {
            "success": passed == len(results),
            "results": results,
            "suite_name": self.suite.name,
            "suite_parameters": {},
            "statistics": {
                "evaluated_expectations": len(results),
                "successful_expectations": passed,
                "unsuccessful_expectations": len(results) - passed,
                "success_percent": passed / len(results) * 100 if results else None,
            },
            "meta": {"gate": self.gate_name, "evaluator": "assay.validation (native)"},
            "id": None,
        }
        return GateResult(ge_result["success"], ge_result, row_level, aggregate)

    @staticmethod
    def _expectation_result(expectation: Expectation, partial: Any, scope: Scope,
                            table: Table) -> dict:
        message = partial.message if isinstance(partial, Failed) else None
        if message is None:
            try:
                outcome = expectation.validate(partial, table)
            except _EVALUATION_ERRORS as exc:  # a bound GE cannot compare either
                message = str(exc)
        if message is not None:
            outcome = {"success": False, "result": {}}
        exception = {"raised_exception": message is not None, "exception_traceback": None}
        return {
            "success": outcome["success"],
            "expectation_config": expectation.config(),
            "result": outcome["result"],
            "meta": {"scope": scope},
            "exception_info": {**exception, "exception_message": message},
        }
