"""A gate's statistics kept beside a published version, so the next append merges them with
its own instead of rereading the table (dataset scope: ``assay.validation.scope``).

One Parquet file of one row per gate: ``rows``, ``columns``, and one column per statistic,
named as the expectations name it (``min(score)``, ``value_counts(plan)``). Arrow types the
values, so they come back exactly as they went in: scalars (counts, extremes), structs
(``SumCount``, ``Moments``) and lists of ``{value, count}`` (value counts). Parquet rather
than JSON because value counts hold any column type (timestamps, large integers, strings).
Value counts of more than ``MAX_KEPT_DISTINCT`` values, and a statistic Arrow cannot hold
(an integer sum beyond int64), are not kept: a later dataset-scope run rereads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.validation.expectations.aggregate import SumCount
from assay.validation.expectations.statistics import Moments

MAX_KEPT_DISTINCT = 10_000  # value counts above this many values are reread, not kept
_STRUCTS = {frozenset(cls.__dataclass_fields__): cls for cls in (SumCount, Moments)}


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
    statistics = {name: _decode(table.column(name)[0]) for name in table.column_names
                  if name not in ("rows", "columns")}
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
    return _STRUCTS[frozenset(value)](**value) if isinstance(value, dict) else value
