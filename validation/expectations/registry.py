"""The supported slice of GE's catalogue: adding an expectation is adding a class to one of
the modules' ``EXPECTATIONS`` (or to the list below)."""

from __future__ import annotations

from assay.validation.expectations.aggregate import (
    ColumnMeanBetween,
    ColumnToExist,
    TableRowCountBetween,
)
from assay.validation.expectations.base import Expectation
from assay.validation.expectations.column_map import (
    InSet,
    MatchRegex,
    NotNull,
    Unique,
    ValueLengthsBetween,
    ValuesBetween,
)
from assay.validation.expectations.column_map_more import EXPECTATIONS as MORE_COLUMN_MAP
from assay.validation.expectations.distinct import EXPECTATIONS as DISTINCT
from assay.validation.expectations.multicolumn import CompoundColumnsUnique
from assay.validation.expectations.rows import EXPECTATIONS as ROWS
from assay.validation.expectations.statistics import EXPECTATIONS as STATISTICS
from assay.validation.expectations.table import EXPECTATIONS as TABLE

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
