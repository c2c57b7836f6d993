"""Schema enforcement on one partition of raw values: typed columns out, and for each row
whose values do not fit (unparseable as the declared type, null where not nullable) the
reasons, so the row can be quarantined instead of failing the block."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import pandas as pd

from assay.pipelines.spec import ColumnSpec, CsvOptions, SchemaSpec
from assay.transforms import frame as fr
from assay.transforms.casting import cast_column
from assay.transforms.frame import Column, Frame
from assay.transforms.masks import as_mask, reasons


@dataclass
class Enforced:
    frame: Frame  # typed data columns (schema order, then kept extras)
    failed: Column  # bool per row
    reasons: Column  # str per row, REASON_SEP-joined, "" where none


def empty_typed(schema: SchemaSpec) -> pd.DataFrame:
    """The empty frame of the schema's columns, typed as ``enforce_schema`` types them."""
    return pd.DataFrame({c.name: cast_column(pd.Series(dtype="str"), c.type).values
                         for c in schema.columns})


def type_reason(column: ColumnSpec) -> str:
    """The reason of a value that is not of its column's declared type."""
    return f"schema: {column.name} is not {column.type}"


def enforce_schema(raw: Frame, schema: SchemaSpec, csv: CsvOptions | None = None) -> Enforced:
    """Type ``raw``'s columns as ``schema`` declares; missing columns (when allowed) are null,
    extra columns are dropped or kept as strings per the schema's policy."""
    lib = fr.library(raw)
    typed = lib.DataFrame(index=raw.index)
    problems: list[tuple[Column, str]] = []
    bool_words = {} if csv is None else {"true_values": csv.true_values,
                                         "false_values": csv.false_values}
    for column in schema.columns:
        values = raw[column.name] if column.name in raw.columns else \
            lib.Series(None, index=raw.index, dtype="str")
        cast = cast_column(values, column.type, format=column.format,
                           timezone=column.timezone, **bool_words)
        typed[column.name] = cast.values
        problems.append((cast.failed, type_reason(column)))
        if not column.nullable:
            problems.append((cast.values.isna() & ~cast.failed,
                             f"schema: {column.name} is null but not nullable"))
    if schema.extra_columns == "keep":
        for name in raw.columns:
            if name not in typed.columns:
                typed[name] = fr.as_string(raw[name])
    failed = functools.reduce(operator.or_, (as_mask(mask) for mask, _ in problems))
    return Enforced(typed, failed, reasons(raw, problems))
