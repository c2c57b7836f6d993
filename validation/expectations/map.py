"""Map expectations: a yes/no question per row, summarised GE's way (counts, percents, mostly)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from assay.transforms.masks import as_mask
from assay.validation.expectations.base import Expectation, Table, require_columns
from assay.validation.expectations.frames import count
from assay.validation.expectations.requests import Answers
from assay.validation.results import PARTIAL_UNEXPECTED_COUNT, map_result, mostly_success


@dataclass
class MapPartial:
    """Counts over some rows plus the first unexpected values, in partition order."""

    element_count: int = 0
    considered: int = 0  # rows GE evaluates (non-null, or not ignored)
    unexpected_count: int = 0
    sample: list[Any] = field(default_factory=list)


class MapExpectation(Expectation):
    """A row-level expectation over ``columns``; subclasses say which rows count and fail."""

    row_level = True
    report_missing: ClassVar[bool] = True  # GE omits missing_* fields for not_null

    @abstractmethod
    def considered(self, part: Any) -> Any:
        """Mask of the rows GE evaluates at all (the rest are 'missing')."""

    @abstractmethod
    def unexpected(self, part: Any, answers: Answers) -> Any:
        """Mask (nulls allowed) of failing rows; only read where ``considered``."""

    @abstractmethod
    def sample(self, part: Any, rows: Any) -> list[Any]:
        """The first unexpected values among ``rows``."""

    def masks(self, part: Any, answers: Answers) -> tuple[Any, Any]:
        """The rows GE evaluates, and the unexpected rows among them (plain bool masks)."""
        require_columns(part, self.columns)
        considered = self.considered(part)
        return considered, as_mask(self.unexpected(part, answers)) & considered

    def empty(self) -> MapPartial:
        return MapPartial()

    def partial(self, part: Any, answers: Answers) -> MapPartial:
        return self.summarize(part, *self.masks(part, answers), answers)

    def summarize(self, part: Any, considered: Any, rows: Any, answers: Answers
                  ) -> MapPartial:
        """The partial from masks already computed (the gate routes rows with them too);
        ``answers`` for an expectation that reports more than the rows."""
        unexpected = count(rows)
        return MapPartial(
            element_count=len(part),
            considered=count(considered),
            unexpected_count=unexpected,
            sample=self.sample(part, rows) if unexpected else [],
        )

    def merge(self, a: MapPartial, b: MapPartial) -> MapPartial:
        sample = a.sample
        if len(sample) < PARTIAL_UNEXPECTED_COUNT:
            sample = (sample + b.sample)[:PARTIAL_UNEXPECTED_COUNT]
        return MapPartial(
            a.element_count + b.element_count,
            a.considered + b.considered,
            a.unexpected_count + b.unexpected_count,
            sample,
        )

    def validate(self, partial: MapPartial, table: Table) -> dict[str, Any]:
        success = mostly_success(partial.considered, partial.unexpected_count, self.kw.mostly)
        result = map_result(
            partial.element_count,
            partial.considered if self.report_missing else None,
            partial.unexpected_count,
            partial.sample,
        )
        return {"success": success, "result": result}
