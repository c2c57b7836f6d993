"""The benchmark suites and their data: typed dirty events, and two GE 1.x suites from
issue 4's catalogue.

- ``mixed``: 17 expectations, two of them regexes and two cross-partition uniqueness
  checks, whose cost per row is the regex engine's or a global hash count's in any engine.
- ``structural``: 16 structural checks (presence, nulls, sets, ranges, statistics,
  distinct values): the checks whose cost in GE is mostly GE's own per-expectation work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_samples.generate import dirty_events

COUNTRIES = ["US", "DE", "FR", "JP", "BR", "IN"]


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {}}


MIXED: list[dict[str, Any]] = [
    _e("column_to_exist", column="event_id"),
    _e("table_row_count_to_be_between", min_value=1, max_value=100_000_000),
    _e("column_values_to_not_be_null", column="amount", mostly=0.95),
    _e("column_values_to_be_in_set", column="country", value_set=COUNTRIES, mostly=0.9),
    _e("column_values_to_not_be_in_set", column="country", value_set=["XX", "??"]),
    _e("column_values_to_be_between", column="amount", min_value=0, max_value=1_000_000),
    _e("column_values_to_match_regex", column="user", regex=r"^\S+$"),
    _e("column_values_to_not_match_regex", column="text", regex=r"[<>]"),
    _e("column_value_lengths_to_be_between", column="text", min_value=1, max_value=200),
    _e("column_values_to_be_unique", column="event_id"),
    _e("compound_columns_to_be_unique", column_list=["event_id", "ts"]),
    _e("column_mean_to_be_between", column="amount", min_value=0, max_value=1_000_000),
    _e("column_min_to_be_between", column="amount", min_value=-1_000_000),
    _e("column_max_to_be_between", column="amount", max_value=10_000_000),
    _e("column_stdev_to_be_between", column="amount", min_value=0),
    _e("column_unique_value_count_to_be_between", column="country", max_value=1000),
    _e("column_distinct_values_to_be_in_set", column="country", value_set=COUNTRIES),
]


STRUCTURAL: list[dict[str, Any]] = [
    _e("column_to_exist", column="event_id"),
    _e("table_row_count_to_be_between", min_value=1, max_value=100_000_000),
    _e("table_column_count_to_equal", value=6),
    _e("table_columns_to_match_set", column_set=["event_id", "ts", "user", "country",
                                                  "amount", "text"]),
    _e("column_values_to_not_be_null", column="event_id"),
    _e("column_values_to_not_be_null", column="amount", mostly=0.95),
    _e("column_values_to_be_in_set", column="country", value_set=COUNTRIES, mostly=0.9),
    _e("column_values_to_be_between", column="amount", min_value=0, max_value=1_000_000),
    _e("column_values_to_be_between", column="event_id", min_value=0),
    _e("column_mean_to_be_between", column="amount", min_value=0, max_value=1_000_000),
    _e("column_min_to_be_between", column="amount", min_value=-1_000_000),
    _e("column_max_to_be_between", column="amount", max_value=10_000_000),
    _e("column_stdev_to_be_between", column="amount", min_value=0),
    _e("column_proportion_of_non_null_values_to_be_between", column="amount", min_value=0.9),
    _e("column_unique_value_count_to_be_between", column="country", max_value=1000),
    _e("column_distinct_values_to_be_in_set", column="country", value_set=COUNTRIES),
]

SUITES = {"mixed": MIXED, "structural": STRUCTURAL}


def typed_events(rows: int, seed: int) -> pd.DataFrame:
    """Dirty events with typed columns, as a gate sees them after the reader."""
    raw = dirty_events(rows, seed=seed)
    return pd.DataFrame({
        "event_id": pd.to_numeric(raw["event_id"], errors="coerce").astype("Int64"),
        "ts": pd.to_datetime(raw["ts"], format="ISO8601", utc=True, errors="coerce"),
        "user": raw["user"].astype("str"),
        "country": raw["country"].astype("str"),
        "amount": pd.to_numeric(raw["amount"], errors="coerce").astype("float64"),
        "text": raw["text"].astype("str"),
    })


def ensure_data(folder: Path, rows: int, seed: int = 0) -> Path:
    path = folder / f"gates-{rows}-s{seed}.parquet"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(typed_events(rows, seed), preserve_index=False)
        pq.write_table(table, path)
    return path


def load(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()
