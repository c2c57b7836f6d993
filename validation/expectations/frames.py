"""Partition kernels shared by the expectations, written against the pandas/cuDF common API."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import numpy as np

from assay.transforms.frame import array_module, array_values, library, to_host, to_pandas
from assay.transforms.masks import as_mask

Column = Any  # pandas.Series or cudf.Series
Frame = Any

# The pipeline holds int and bool columns in pandas' nullable dtypes; GE's users load the
# same values with pandas' defaults (read_csv, Parquet's to_pandas): numpy ints and bools,
# floats with NaN or objects where a value is missing. GE's answer is the answer on those.
def plain_dtype(dtype: Any, has_nulls: bool) -> Any:
    """The dtype pandas' defaults give a column of ``dtype`` (with or without nulls). Ints
    and booleans with a null are nullable ones (cuDF names them as numpy's)."""
    name = str(dtype)
    lower = name.lower()
    if lower.startswith(("int", "uint")):
        return np.dtype("float64" if has_nulls else lower)
    if lower in ("bool", "boolean"):
        return np.dtype(object if has_nulls else bool)
    if name.startswith("Float"):
        return np.dtype(lower)  # NaN where a value is missing
    return dtype


def plain_view(frame: Frame) -> Frame:
    """``frame`` with its nullable int, float and bool columns in pandas' default dtypes."""
    casts = {}
    for column, dtype in frame.dtypes.items():
        plain = plain_dtype(dtype, bool(frame[column].isna().any()))
        if plain != dtype:
            casts[column] = frame[column].astype(plain) if plain.kind != "O" else \
                frame[column].astype(object).where(frame[column].notna(), None)
    return frame.assign(**casts) if casts else frame


def missing_rows(part: Frame, columns: list[str], every: bool) -> Column:
    """Rows missing every (``every``) or any of ``columns``' values, combined column by
    column (a frame's row-wise ``all``/``any`` first stacks the columns into one block)."""
    combine = operator.and_ if every else operator.or_
    return reduce(combine, (part[column].isna() for column in columns))


def all_rows(values: Column) -> Column:
    return values.isna() | True


_HEAD = 1 << 16  # rows scanned first for a sample: when many fail, it holds enough


def count(mask: Column) -> int:
    """How many rows ``mask`` holds (numpy's count: no pandas reduction)."""
    flags = array_values(as_mask(mask))
    return int(array_module(flags).count_nonzero(flags))


def _first(rows: Column, limit: int) -> Any:
    """Positions of the first ``limit`` rows where ``rows`` is True: a scan of the mask's
    head, of all of it only when the head holds fewer; no filtered copy of the data."""
    flags = array_values(rows)
    xp = array_module(flags)
    head = xp.flatnonzero(flags[:_HEAD])
    return head[:limit] if len(head) >= limit else xp.flatnonzero(flags)[:limit]


def _take(data: Column | Frame, positions: Any) -> Any:
    """``data.iloc[positions]`` from the slice they span: a take from Arrow chunked data
    costs a pass over every row otherwise (1.3 ms on 625k strings, for 20 values)."""
    if len(positions) == 0:
        return data.iloc[positions]
    start = int(positions[0])
    return data.iloc[start:int(positions[-1]) + 1].iloc[positions - start]


def head_values(values: Column, rows: Column, limit: int) -> list[Any]:
    """The first ``limit`` values where ``rows`` is True, as Python objects, in order."""
    return to_pandas(_take(values, _first(rows, limit))).tolist()


def head_records(frame: Frame, rows: Column, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` records where ``rows`` is True, as dicts, in order."""
    return to_pandas(_take(frame, _first(rows, limit))).to_dict("records")


def between(values: Column, low: Any, high: Any, strict_low: bool, strict_high: bool) -> Column:
    """Inside the bounds (either may be None); nulls compare as null."""
    inside = None
    if low is not None:
        inside = values > low if strict_low else values >= low
    if high is not None:
        upper = values < high if strict_high else values <= high
        inside = upper if inside is None else inside & upper
    return inside


def positional(flags: Column | None, like: Column) -> Column:
    """A partition's answer (a bool column zipped with the partition) on ``like``'s index;
    no row where there is no answer (a missing column, a partial taken without answers)."""
    if flags is None:
        return like.isna() & False
    return library(like).Series(array_values(flags), index=like.index)


def expand(subset: Column, considered: Column) -> Column:
    """A mask over all rows from ``subset``, one value per ``considered`` row in order;
    False elsewhere (positional, so a repeated index is fine)."""
    full = considered & False
    full[considered] = as_mask(subset).values
    return full


def distinct_failures(values: Column, passes: Any) -> Column:
    """Rows whose value fails ``passes`` (a Python predicate), calling it once per distinct
    non-null value of the partition and mapping the verdicts back with ``isin``: the
    Python-level work is bounded by the number of distinct values, never by rows."""
    distinct = to_host(values.dropna().drop_duplicates())
    failing = [value for value in distinct if not passes(value)]
    return values.isin(failing) & values.notna()
