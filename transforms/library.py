"""Imports every step module so each registers its ``op`` (see base.registered_steps)."""

from assay.transforms import (  # noqa: F401
    columns,
    conversion,
    decontaminate,
    dedup,
    derive,
    filtering,
    language,
    near_dedup,
    nulls,
    pii,
    quality,
    ranges,
    row_id,
    text,
)
