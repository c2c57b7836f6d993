"""Vectorised conversion of raw values to a declared column type, reporting which values
failed instead of raising, so bad values can be quarantined row by row.

Used by schema enforcement (every CSV value arrives as a string) and by the ``cast`` and
``parse_timestamp`` steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms import frame as fr
from assay.transforms.frame import Column
from assay.transforms.timestamps import parse_timestamps

_INT_PATTERN = r"[+-]?\d+"
_INT_BOUNDS = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}
_FLOAT_NULL_WORDS = ("nan", "NaN", "NAN")
_ARROW_TYPES = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
                "float32": pa.float32()}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}


@dataclass
class CastResult:
    """``values`` in the target type; ``failed`` marks non-null inputs that did not convert
    (those come out null in ``values``)."""

    values: Column
    failed: Column


def cast_column(
    values: Column,
    type_name: str,
    *,
    format: str | None = None,
    timezone: str | None = None,
    true_values: Sequence[str] = ("true", "True", "TRUE", "1"),
    false_values: Sequence[str] = ("false", "False", "FALSE", "0"),
) -> CastResult:
    """Convert ``values`` to ``type_name`` (a spec column type)."""
    present = values.notna()
    if type_name in _INT_BOUNDS or type_name in ("float64", "float32"):
        fast = _strict_cast(values, type_name)
        if fast is not None:
            return CastResult(fast.astype(type_name) if type_name.startswith("float")
                              else fast, present & False)
    if type_name == "string":
        return CastResult(fr.as_string(values), present & False)
    if type_name in _INT_BOUNDS:
        return _to_int(values, present, type_name)
    if type_name in ("float64", "float32"):
        return _to_float(values, present, type_name)
    if type_name == "bool":
        return _to_bool(values, present, true_values, false_values)
    if type_name == "timestamp":
        parsed = parse_timestamps(values, format or "ISO8601", timezone or "UTC")
        parsed = parsed.where((parsed >= TIMESTAMP_MIN) & (parsed <= TIMESTAMP_MAX))
        return CastResult(parsed, present & parsed.isna())
    raise ValueError(f"unknown column type {type_name!r}")


# Years 1 to 9999 (Python's datetime): a timestamp beyond them is stored fine in Parquet
# but breaks most readers of the dataset, so it counts as not a timestamp.
TIMESTAMP_MIN = pd.Timestamp("0001-01-01", tz="UTC")
TIMESTAMP_MAX = pd.Timestamp("9999-12-31 23:59:59.999999", tz="UTC")


def _strict_cast(values: Column, type_name: str) -> Column | None:
    """A column of strings cast in one C++ pass, or None when any value does not convert
    or the strings are not held in Arrow on the host.

    The fast path for clean columns: Arrow's parser is stricter than the general one (no
    surrounding spaces, no ``+``), so when it succeeds the result is the same, and when it
    fails the caller falls back to the per-value path that finds the bad values.
    """
    arrow = fr.arrow_strings(values)
    if arrow is None:
        return None
    try:
        cast = pc.cast(arrow, _ARROW_TYPES[type_name])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = cast.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return out.set_axis(values.index).rename(values.name)


def _to_int(values: Column, present: Column, type_name: str) -> CastResult:
    if fr.is_string_like(values):
        text = values.str.strip()
        looks_int = fr.fullmatch(text, _INT_PATTERN).fillna(False).astype(bool)
        numbers = fr.to_numeric(text.where(looks_int, None))
    else:
        numbers = fr.to_numeric(values)
        looks_int = numbers.notna() & (numbers == numbers.round())
        numbers = numbers.where(looks_int, None)
    low, high = _INT_BOUNDS[type_name]
    in_range = looks_int & (numbers >= low) & (numbers <= high)
    in_range = in_range.fillna(False).astype(bool)
    typed = fr.to_nullable(numbers.where(in_range, None), type_name)
    return CastResult(typed, present & ~in_range)


def _to_float(values: Column, present: Column, type_name: str) -> CastResult:
    numbers = fr.to_numeric(values.str.strip() if fr.is_string_like(values) else values)
    typed = numbers.astype(type_name)
    failed = present & typed.isna()
    if fr.is_string_like(values):
        failed = failed & ~values.str.strip().isin(_FLOAT_NULL_WORDS)
    return CastResult(typed, failed)


def _to_bool(
    values: Column, present: Column, true_values: Sequence[str], false_values: Sequence[str]
) -> CastResult:
    if not fr.is_string_like(values):
        values = fr.as_string(values)
    text = values.str.strip()
    is_true = text.isin(list(true_values))
    is_false = text.isin(list(false_values))
    known = is_true | is_false
    typed = fr.to_nullable(is_true.where(known, None), "bool")
    return CastResult(typed, present & ~known)
