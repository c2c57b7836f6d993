"""Kept statistics round-trip exactly through their Parquet file; an older assay's rounded
sums and moments are dropped (so they are reread), never merged as if exact."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.validation import kept
from assay.validation.expectations.exact import exact_sum
from assay.validation.expectations.statistics import Moments


def _round_trip(statistics: dict) -> kept.Kept:
    sink = io.BytesIO()
    kept.write(kept.Kept(3, ("x",), statistics), sink)
    sink.seek(0)
    return kept.read(sink)


def test_exact_sums_and_moments_come_back_exactly() -> None:
    floats = exact_sum(pd.Series([1e16, 1.0, 1.0, -1e16, 5e-324]), "float")
    ints = exact_sum(pd.Series([3 * 10**18] * 4), "int")
    moments = Moments(5, 2.5e32, floats.total, floats.infinite)
    back = _round_trip({"sum(x)": floats, "sum(y)": ints, "moments(x)": moments})
    assert back.statistics == {"sum(x)": floats, "sum(y)": ints, "moments(x)": moments}
    assert back.statistics["sum(x)"].sum() == 2.0
    assert back.statistics["sum(y)"].sum() == 12 * 10**18


def test_an_older_rounded_sum_is_not_kept() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({
        "rows": pa.array([3], pa.int64()), "columns": pa.array([["x"]]),
        "sum(x)": pa.array([{"total": 2.5, "count": 3}]),
        "moments(x)": pa.array([{"count": 3, "mean": 1.0, "m2": 2.0}]),
        "min(x)": pa.array([1.5])}), sink)
    sink.seek(0)
    assert kept.read(sink).statistics == {"min(x)": 1.5}
