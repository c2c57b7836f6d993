"""The supported slice of GE's catalogue: adding an expectation is adding a class to one of
the modules' ``EXPECTATIONS`` (or to the list below)."""

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
from validation.expectations.column_map_more import EXPECTATIONS as MORE_COLUMN_MAP
from validation.expectations.distinct import EXPECTATIONS as DISTINCT
from validation.expectations.multicolumn import CompoundColumnsUnique
from validation.expectations.rows import EXPECTATIONS as ROWS
from validation.expectations.statistics import EXPECTATIONS as STATISTICS
from validation.expectations.table import EXPECTATIONS as TABLE

CORE = (
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

REGISTRY: dict[str, type[Expectation]] = {
    cls.type: cls for cls in (*CORE, *MORE_COLUMN_MAP, *ROWS, *TABLE, *STATISTICS, *DISTINCT)
}
