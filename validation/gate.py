"""Evaluating a suite on partitions: per-partition statistics, their fold, GE-shaped results.

The evaluator is plain Python and picklable; ``assay.validation.dask_gate`` wires it into a graph.
An expectation that fails to evaluate where GE's engine raises too (a missing column,
incomparable types) becomes a failed result with ``exception_info``, never a crashed run.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from assay.transforms.frame import library
from assay.transforms.masks import reasons
from assay.validation.expectations import Expectation, ExpectationError, Table
from assay.validation.expectations.map import MapExpectation
from assay.validation.expectations.requests import Answers, Request
from assay.validation.expectations.shared import partition_scope
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
    """One partition's outcome: statistics, and per row whether it failed a row-level
    expectation (``failed``) and which (``reasons``, '' where it passed)."""

    stats: Stats
    failed: Any
    reasons: Any


@dataclass
class GateResult:
    success: bool
    ge_result: dict[str, Any]
    row_level_failed: list[str] = field(default_factory=list)
    aggregate_failed: list[str] = field(default_factory=list)


_EVALUATION_ERRORS = (ExpectationError, TypeError)


class GateEvaluator:
    """Evaluates one gate's suite natively; see the module docstring."""

    def __init__(self, suite: Suite, gate_name: str) -> None:
        self.suite = suite
        self.gate_name = gate_name
        asked = (request for e in suite.expectations for request in e.requests)
        self.requests: list[Request] = list(dict.fromkeys(asked))  # each distinct one once

    def __dask_tokenize__(self) -> Any:
        configs = [e.config() for e in self.suite.expectations]
        return ("GateEvaluator", self.gate_name, self.suite.name, repr(configs))

    def evaluate(self, part: Any, answers: Answers) -> Verdict:
        """The partition's statistics and row failures, each expectation's masks computed
        once for both. Failing rows are flagged whatever ``mostly`` allows: ``mostly``
        decides the gate's success, the quarantine takes every unexpected row."""
        partials, parts = [], []
        with partition_scope():
            for expectation in self.suite.expectations:
                self._evaluate_one(expectation, part, answers, partials, parts)
        failed = reduce(operator.or_, (rows for rows, _ in parts),
                        library(part).Series(False, index=part.index, dtype=bool))
        stats = Stats(len(part), tuple(part.columns), partials)
        return Verdict(stats, failed, reasons(part, parts))

    def _evaluate_one(self, expectation: Expectation, part: Any, answers: Answers,
                      partials: list[Any], parts: list[tuple[Any, str]]) -> None:
        try:
            if isinstance(expectation, MapExpectation):
                considered, rows = expectation.masks(part, answers)
                partials.append(expectation.summarize(part, considered, rows))
                parts.append((rows, f"{self.gate_name}: {expectation.label}"))
            else:
                partials.append(expectation.partial(part, answers))
        except _EVALUATION_ERRORS as exc:  # reported as a failed result, nothing routed
            partials.append(Failed(str(exc)))

    def combine(self, stats: list[Stats]) -> Stats:
        empty = Stats(0, None, [e.empty() for e in self.suite.expectations])
        return reduce(self._merge, stats, empty)

    def _merge(self, a: Stats, b: Stats) -> Stats:
        partials = [
            x if isinstance(x, Failed) else y if isinstance(y, Failed) else e.merge(x, y)
            for e, x, y in zip(self.suite.expectations, a.partials, b.partials, strict=True)
        ]
        return Stats(a.rows + b.rows, a.columns or b.columns, partials)

    def result(self, stats: Stats) -> GateResult:
        table = Table(stats.rows, stats.columns)
        results = [
            self._expectation_result(e, p, table)
            for e, p in zip(self.suite.expectations, stats.partials, strict=True)
        ]
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
    def _expectation_result(expectation: Expectation, partial: Any, table: Table) -> dict:
        exception = {"raised_exception": False, "exception_traceback": None}
        if isinstance(partial, Failed):
            outcome: dict[str, Any] = {"success": False, "result": {}}
            exception = {"raised_exception": True, "exception_traceback": None}
            message = partial.message
        else:
            outcome, message = expectation.validate(partial, table), None
        return {
            "success": outcome["success"],
            "expectation_config": expectation.config(),
            "result": outcome["result"],
            "meta": {},
            "exception_info": {**exception, "exception_message": message},
        }
