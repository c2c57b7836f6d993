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

from validation.expectations.column_map_more import EXPECTATIONS as _MORE_COLUMN_MAP  # noqa: E402

REGISTRY.update({cls.type: cls for cls in _MORE_COLUMN_MAP})

from validation.expectations.rows import EXPECTATIONS as _ROWS  # noqa: E402

REGISTRY.update({cls.type: cls for cls in _ROWS})

from validation.expectations.distinct import EXPECTATIONS as _DISTINCT  # noqa: E402
from validation.expectations.statistics import EXPECTATIONS as _STATISTICS  # noqa: E402
from validation.expectations.table import EXPECTATIONS as _TABLE  # noqa: E402

REGISTRY.update({cls.type: cls for cls in (*_TABLE, *_STATISTICS, *_DISTINCT)})
