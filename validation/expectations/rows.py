"""The row-level expectations of ``ordering``, ``parsing`` and ``pairs``, for the registry."""

from __future__ import annotations

from assay.validation.expectations.base import Expectation
from assay.validation.expectations.ordering import Decreasing, Increasing
from assay.validation.expectations.pairs import (
    MulticolumnSumEqual,
    PairAGreaterThanB,
    PairEqual,
    PairInSet,
    SelectUniqueWithinRecord,
)
from assay.validation.expectations.parsing import (
    DateutilParseable,
    JsonParseable,
    MatchStrftimeFormat,
)

EXPECTATIONS: tuple[type[Expectation], ...] = (
    Increasing,
    Decreasing,
    DateutilParseable,
    MatchStrftimeFormat,
    JsonParseable,
    PairEqual,
    PairAGreaterThanB,
    PairInSet,
    SelectUniqueWithinRecord,
    MulticolumnSumEqual,
)
