"""Imports every module that registers expectations, so ``REGISTRY`` holds them all."""

from assay.validation.expectations import (  # noqa: F401
    aggregate,
    column_map,
    column_map_more,
    distinct,
    multicolumn,
    ordering,
    pairs,
    parsing,
    quantiles,
    splits,
    statistics,
    table,
)
