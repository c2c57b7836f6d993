"""Imports every step module so each registers its ``op`` (see base.registered_steps)."""

from assay.transforms import (  # noqa: F401
    columns,
    conversion,
    dedup,
    derive,
    filtering,
    near_dedup,
    nulls,
    ranges,
    row_id,
    text,
)
