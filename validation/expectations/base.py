"""The expectation contract: parse GE kwargs once, then evaluate per partition and combine.

An expectation turns one partition into a small picklable partial (``partial``), folds two
partials (``merge``) and turns the total into GE's ``{"success", "result"}`` (``validate``).
Row-level expectations (``map.MapExpectation``) also say which rows are unexpected.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from assay.validation.expectations.params import COMMON, Param


class ConfigError(ValueError):
    """A kwarg is unknown, missing or invalid; the text names the key."""


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
    params: ClassVar[dict[str, Param]] = {}
    row_level: ClassVar[bool] = False

    def __init__(self, kwargs: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        self.kwargs = dict(kwargs)
        self.meta = dict(meta or {})
        self.kw = self._parse(kwargs)
        self.check()

    def _parse(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        accepted = {**COMMON, **self.params}
        for key in kwargs:
            if key not in accepted:
                raise ConfigError(f"unknown key {key!r}")
        values: dict[str, Any] = {}
        for key, param in accepted.items():
            if key in kwargs:
                try:
                    values[key] = param.check(kwargs[key])
                except ValueError as exc:
                    raise ConfigError(f"{key}: {exc}") from None
            elif param.required:
                raise ConfigError(f"missing required key {key!r}")
            else:
                values[key] = param.default
        return values

    def check(self) -> None:  # noqa: B027 - optional hook, most expectations need none
        """Cross-key checks; raise ConfigError."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ()

    @property
    def label(self) -> str:
        return f"{self.type}({', '.join(self.columns)})"

    @property
    def duplicate_key(self) -> tuple[str, ...] | None:
        """Columns whose globally duplicated values this expectation needs, if any."""
        return None

    def empty(self) -> Any:
        """The partial of no rows (identity of ``merge``)."""
        return None

    def partial(self, part: Any, duplicates: dict[tuple[str, ...], Any]) -> Any:
        return None

    def merge(self, a: Any, b: Any) -> Any:
        return a

    @abstractmethod
    def validate(self, partial: Any, table: Table) -> dict[str, Any]:
        """GE's ``{"success": bool, "result": {...}}`` for the whole table."""

    def config(self) -> dict[str, Any]:
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta)}
