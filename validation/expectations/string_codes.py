"""A string column dictionary-encoded once per partition, for the expectations that compare
whole values: set membership (``in_set``, ``not_in_set``) and value counts (distinct
values, unique value count, the mode, proportions).

pandas answers each of these with a hash of every row's string (``isin`` is Arrow's
``is_in``, ``value_counts`` Arrow's ``value_counts``): three hash passes for a column that
three expectations check, about 15 ms each over 625,000 short strings. Encoding the column
once (Arrow's ``dictionary_encode``, one hash pass) leaves a code per row and the distinct
values: membership is then a lookup of the few distinct values, taken per row by code, and
the counts are a ``bincount`` of the codes, about 3 ms each (``benchmarks/RESULTS.md``,
gates). Only pandas' default string dtype (``str``, Arrow-backed) takes this path, with
the same answers and result types as pandas'; any other column keeps pandas' own calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.frame import arrow_strings
from assay.validation.expectations.shared import shared


@dataclass(frozen=True)
class Encoded:
    """The distinct non-null values in order of first occurrence, and each row's index
    into them (-1 for a null)."""

    dictionary: pa.Array
    codes: np.ndarray


def _encode(arrow: pa.Array | pa.ChunkedArray) -> Encoded:
    encoded = pc.dictionary_encode(arrow)  # one dictionary for all chunks
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return Encoded(encoded.dictionary, codes)


def encoded(values: Any, column: str) -> Encoded | None:
    """``values`` (the partition's ``column``) encoded, once per partition scope; None
    unless they are pandas' Arrow-backed ``str`` strings."""
    arrow = arrow_strings(values) if str(values.dtype) == "str" else None
    if arrow is None:
        return None
    return shared(("encoded", column), lambda: _encode(arrow))


def isin(values: Any, column: str, members: list[Any]) -> Any:
    """pandas' ``values.isin(members)`` (a bool Series; nulls never match a string)."""
    codes = encoded(values, column)
    if codes is None:
        return values.isin(members)
    strings = [member for member in members if isinstance(member, str)]
    hit = np.zeros(len(codes.dictionary) + 1, dtype=bool)  # the last one: a null's code
    if strings:
        found = pc.is_in(codes.dictionary, value_set=pa.array(strings, codes.dictionary.type))
        hit[:-1] = found.to_numpy(zero_copy_only=False)
    return pd.Series(hit[codes.codes], index=values.index)


def value_counts(values: Any, column: str) -> pd.Series | None:
    """pandas' ``values[values.notna()].value_counts(sort=False)`` from the codes; None
    where the column is not encoded."""
    codes = encoded(values, column)
    if codes is None:
        return None
    counts = np.bincount(codes.codes[codes.codes >= 0], minlength=len(codes.dictionary))
    index = pd.Index(pd.array(codes.dictionary, dtype=values.dtype), name=values.name)
    return pd.Series(counts, index=index, name="count")
