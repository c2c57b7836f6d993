"""Per-column statistics of a dataset in one streaming pass, for ``assay diff``.

Batches are read one at a time from a pyarrow dataset and folded into running totals, so
memory does not grow with the data. Exact: rows, null rate, min and max. The mean (of
numbers, and of booleans: the share true) is a float64 sum over the non-null values divided
by their count: exact up to float rounding. The distinct count is a HyperLogLog estimate
(``distinct_sketch``: exact up to 4,096 values, then 0.8% relative standard error);
none for lists and structs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from assay.pipelines.distinct_sketch import DistinctSketch


@dataclass(frozen=True)
class ColumnStats:
    type: str
    rows: int
    nulls: int
    mean: float | None  # numbers and booleans; None for other types or no values
    min: Any  # None for lists and structs, or no values
    max: Any
    distinct: int | None  # None for lists and structs
    distinct_estimated: bool = False  # past the exact count's limit

    @property
    def null_rate(self) -> float | None:
        return self.nulls / self.rows if self.rows else None


def column_stats(dataset: ds.Dataset, batch_size: int = 65_536) -> dict[str, ColumnStats]:
    """Statistics of every column of ``dataset``, in its schema's order."""
    folds = {field.name: _Fold(field.type) for field in dataset.schema}
    for batch in dataset.to_batches(batch_size=batch_size):
        for name, fold in folds.items():
            fold.add(batch.column(name))
    return {name: fold.result() for name, fold in folds.items()}


def _numeric(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_decimal(kind) or pa.types.is_boolean(kind))


class _Fold:
    """Running totals of one column."""

    def __init__(self, kind: pa.DataType) -> None:
        self.kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        self.rows = self.nulls = self.valued = 0
        self.total = 0.0
        self.low: Any = None
        self.high: Any = None
        self.sketch = DistinctSketch() if DistinctSketch.supports(self.kind) else None

    def add(self, values: pa.Array) -> None:
        if pa.types.is_dictionary(values.type):  # a partition column, as some readers give it
            values = values.dictionary_decode()
        self.rows += len(values)
        self.nulls += values.null_count
        if values.null_count == len(values):
            return
        if _numeric(self.kind):
            self.valued += len(values) - values.null_count
            self.total += pc.sum(values.cast(pa.float64())).as_py() or 0.0
        if self.sketch is not None:
            self.sketch.add(values)
            extremes = pc.min_max(values)
            low, high = extremes["min"].as_py(), extremes["max"].as_py()
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)

    def result(self) -> ColumnStats:
        return ColumnStats(
            type=str(self.kind), rows=self.rows, nulls=self.nulls,
            mean=self.total / self.valued if self.valued else None,
            min=self.low, max=self.high,
            distinct=None if self.sketch is None else self.sketch.count(),
            distinct_estimated=self.sketch is not None and self.sketch.exact is None)
