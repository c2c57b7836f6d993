"""The expectation contract: parse GE kwargs once, then evaluate per partition and combine.

An expectation validates its kwargs with its ``params`` model when the suite loads, turns one
partition into a small picklable partial (``partial``), folds two partials (``merge``) and
turns the total into GE's ``{"success", "result"}`` (``validate``). What a partition cannot
know alone (duplicates over the table, the value before it) it asks for with ``requests``.
Row-level expectations (``map.MapExpectation``) also say which rows are unexpected.
An aggregate whose partial can be kept between dataset versions names it (``kept_as``), so a
gate at dataset scope merges the published version's partial with the run's
(``assay.validation.scope``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from assay.validation.expectations.params import ConfigError, Params, parse
from assay.validation.expectations.requests import Answers, Request

__all__ = ["ConfigError", "Expectation", "ExpectationError", "Table", "require_columns"]


class ExpectationError(Exception):
    """Evaluation failed where GE's engine raises too (missing column, incomparable types)."""


@dataclass(frozen=True)
class Table:
    """What every partition knows about the whole table once statistics are combined."""

    rows: int
    columns: tuple[str, ...] | None


def require_columns(part: Any, columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in part.columns:
            raise ExpectationError(f'Error: The column "{column}" in BatchData does not exist.')


class Expectation(ABC):
    """One configured expectation of a suite."""

    type: ClassVar[str]
    params: ClassVar[type[Params]] = Params  # the model of its kwargs
    row_level: ClassVar[bool] = False
    # whether it compares or adds its columns' values as numbers (or timestamps): on a
    # column of text it can only raise, so a spec is refused for it (``gate_columns``)
    numeric: ClassVar[bool] = False
    # the statistic its partial is (``min``, ``value_counts``...), kept beside a published
    # version; None: it needs only the table's rows and columns, or is row-level
    kept_as: ClassVar[str | None] = None
    # whether it judges the rows by the split the sink will give them (``sink.split``),
    # which the spec must then have, on columns the gate sees
    uses_split: ClassVar[bool] = False

    def __init__(self, kwargs: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        self.kwargs = dict(kwargs)  # as given, for reports
        self.meta = dict(meta or {})
        self.kw: Any = parse(self.params, self.kwargs)  # an instance of ``params``

    @property
    def columns(self) -> tuple[str, ...]:
        return ()

    @property
    def label(self) -> str:
        return f"{self.type}({', '.join(self.columns)})"

    @property
    def statistic(self) -> str | None:
        """The name its partial is kept under (``min(score)``); expectations whose partials
        are the same statistic share it."""
        if self.kept_as is None:
            return None
        return f"{self.kept_as}({', '.join(self.columns)})"

    @property
    def requests(self) -> tuple[Request, ...]:
        """Whole-table facts ``partial`` needs; their answers come in its ``answers``."""
        return ()

    def empty(self) -> Any:
        """The partial of no rows (identity of ``merge``)."""
        return None

    def partial(self, part: Any, answers: Answers) -> Any:
        return None

    def merge(self, a: Any, b: Any) -> Any:
        return a

    @abstractmethod
    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        """GE's ``{"success": bool, "result": {...}}`` for the whole table."""

    def config(self) -> dict[str, Any]:
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta)}
