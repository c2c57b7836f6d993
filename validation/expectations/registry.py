"""The supported slice of GE's catalogue: adding an expectation is adding a class here."""

from __future__ import annotations

from validation.expectations.aggregate import ColumnMeanBetween, ColumnToExist, TableRowCountBetween
from validation.expectations.base import Expectation
from validation.expectations.column_map import (
    InSet,
    MatchRegex,
    NotNull,
    Unique,
    ValueLengthsBetween,
    ValuesBetween,
)
from validation.expectations.multicolumn import CompoundColumnsUnique

REGISTRY: dict[str, type[Expectation]] = {
    cls.type: cls
    for cls in (
        ColumnToExist,
        NotNull,
        InSet,
        ValuesBetween,
        MatchRegex,
        ValueLengthsBetween,
        Unique,
        CompoundColumnsUnique,
        TableRowCountBetween,
        ColumnMeanBetween,
    )
}
