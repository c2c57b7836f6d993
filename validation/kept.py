"""A gate's statistics kept beside a published version, so the next append merges them with
its own instead of rereading the table (dataset scope: ``assay.validation.scope``).

One Parquet file of one row per gate: ``rows``, ``columns``, and one column per statistic,
named as the expectations name it (``min(score)``, ``value_counts(plan)``). Arrow types the
values, so they come back exactly as they went in: scalars (counts, extremes), structs
(``SumCount`` with its exact total as decimal text, ``Moments``) and lists of
``{value, count}`` (value counts). Parquet rather
than JSON because value counts hold any column type (timestamps, large integers, strings).
Value counts of more than ``MAX_KEPT_DISTINCT`` values are not kept: a later dataset-scope
run rereads them, as it rereads a sum or moments kept by an older assay (rounded, not exact).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.validation.expectations.exact import SumCount
from assay.validation.expectations.statistics import Moments

MAX_KEPT_DISTINCT = 10_000  # value counts above this many values are reread, not kept
_STRUCTS = {frozenset(cls.__dataclass_fields__): cls for cls in (SumCount, Moments)}
_STALE = object()  # a partial in an older assay's shape (a rounded sum): reread, not merged


@dataclass
class Kept:
    """What a gate saw over every run a version holds: its rows and columns at the gate,
    and the partial of each statistic known (absent: not kept, reread where needed)."""

    rows: int
    columns: tuple[str, ...] | None
    statistics: dict[str, Any] = field(default_factory=dict)


def write(kept: Kept, sink: BinaryIO) -> None:
    columns: dict[str, pa.Array] = {
        "rows": pa.array([kept.rows], pa.int64()),
        "columns": pa.array([list(kept.columns or ())], pa.list_(pa.string())),
    }
    for name, partial in sorted(kept.statistics.items()):
        encoded = _encode(partial)
        if encoded is not None:
            columns[name] = encoded
    pq.write_table(pa.table(columns), sink)


def read(source: BinaryIO) -> Kept:
    table = pq.read_table(source)
    decoded = {name: _decode(table.column(name)[0]) for name in table.column_names
               if name not in ("rows", "columns")}
    statistics = {name: value for name, value in decoded.items() if value is not _STALE}
    return Kept(table.column("rows")[0].as_py(), tuple(table.column("columns")[0].as_py()),
                statistics)


def _encode(partial: Any) -> pa.Array | None:
    """One partial as a one-element Arrow array; None where it is not kept."""
    if isinstance(partial, pd.Series):
        if len(partial) > MAX_KEPT_DISTINCT:
            return None
        pairs = pa.StructArray.from_arrays(
            [pa.Array.from_pandas(partial.index), pa.array(partial.to_numpy(), pa.int64())],
            ["value", "count"])
        return pa.ListArray.from_arrays(pa.array([0, len(partial)], pa.int32()), pairs)
    value = asdict(partial) if isinstance(partial, SumCount | Moments) else partial
    if isinstance(partial, SumCount | Moments):
        value["total"] = str(partial.total)  # exact: beyond int64 for most float sums
    if not isinstance(value, dict | int | float | bool | None):
        return None  # a failed evaluation: nothing to carry to the next version
    try:
        return pa.array([value])
    except (pa.ArrowInvalid, OverflowError):
        return None


def _decode(scalar: pa.Scalar) -> Any:
    if pa.types.is_list(scalar.type):
        pairs = scalar.values
        values = pairs.field("value").to_pandas()
        counts = pairs.field("count").to_numpy()
        return pd.Series(counts, index=pd.Index(values), name="count")
    value = scalar.as_py()
    if not isinstance(value, dict):
        return value
    cls = _STRUCTS.get(frozenset(value))
    if cls is None:
        return _STALE
    return cls(**{**value, "total": int(value["total"])})
