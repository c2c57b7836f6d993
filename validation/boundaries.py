"""Boundary tables: what a partition needs to know about the partitions before it.

``previous_values(live, column)`` is a lazy frame with one partition per partition of
``live``: partition i holds at most one row, ``value``, the last non-null value of
``column`` in partitions 0..i-1 (no row when there is none). Passed to ``map_partitions``
next to ``live`` it is zipped partition by partition. It costs one tiny per-partition pass
(each partition's last non-null value), one gather of those N values into one partition,
and a pick per partition; it never moves rows and shares the run's single graph.
"""

from __future__ import annotations

from typing import Any

from assay.transforms.frame import library


def _last_present(part: Any, column: str, partition_info: dict | None = None) -> Any:
    values = part[column]
    last = values[values.notna().values].tail(1).reset_index(drop=True)
    tail = library(part).DataFrame({"value": last})
    tail["number"] = (partition_info or {}).get("number", 0)
    return tail


def _previous(part: Any, tails: Any, partition_info: dict | None = None) -> Any:
    number = (partition_info or {}).get("number", 0)
    return tails[tails["number"] < number][["value"]].tail(1).reset_index(drop=True)


def previous_values(live: Any, column: str) -> Any:
    """See the module docstring; ``live`` is a dask DataFrame holding ``column``."""
    lib = library(live._meta)
    meta = lib.DataFrame({"value": live._meta[column].iloc[:0]})
    meta["number"] = meta["value"].isna().astype("int64")
    tails = live[[column]].map_partitions(
        _last_present, column, meta=meta, enforce_metadata=False
    ).repartition(npartitions=1)
    return live[[column]].map_partitions(
        _previous, tails, meta=meta[["value"]], enforce_metadata=False, align_dataframes=False
    )
