"""The routed frame: how every row's fate travels through the Dask graph.

Each partition holds the data columns plus lineage (``_source_id``, ``_source_line``) and
routing columns. A live row has a null ``_fate``. A row that leaves is not removed: it is
marked in place with its ``_fate`` (``quarantined`` or ``dropped``), the ``_stage`` that
removed it, its ``_reasons`` (joined by ``REASON_SEP``; reasons name a category, never a
row's value) and ``_record``: the row's values at that stage as JSON, or the raw line when it
could not be parsed. Its data columns are stale from then on and nobody reads them.

Marking instead of filtering means a partition's string columns are copied once, by the
finisher, instead of once per removing step; and keeping every row in one frame is what lets
one ``dask.compute`` write shards, quarantine and the accounting together. Partition steps
are row-wise, so a dead row passing through later steps cannot change a live one. Partition
indexes are unique (readers and shuffles reset them), which is what aligns marks to rows.

After a dataset-wide dedup the rows also carry its index hash (``INDEX_HASH``, 0 on rows
that left before it), which the sink writes into the index: no data column either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms import frame as fr
from assay.transforms.dedup import INDEX_HASH
from assay.transforms.frame import Column, Frame

LINEAGE = ["_source_id", "_source_line"]
ROUTING = ["_fate", "_stage", "_reasons", "_record"]
HIDDEN = LINEAGE + ROUTING
NOT_DATA = {*HIDDEN, INDEX_HASH}
QUARANTINED = "quarantined"
DROPPED = "dropped"

_HIDDEN_DTYPES = {
    "_source_id": "int32",
    "_source_line": "int64",
    "_fate": "str",
    "_stage": "str",
    "_reasons": "str",
    "_record": "str",
}


def data_columns(frame: Frame) -> list[str]:
    return [c for c in frame.columns if c not in NOT_DATA]


def live_mask(frame: Frame) -> Column:
    return frame["_fate"].isna()


def with_routing(data: Frame, lineage: Frame) -> Frame:
    """Live rows: data plus lineage (aligned row for row), routing columns null."""
    out = data.copy(deep=False)  # copy-on-write: new columns never touch the input
    for column in LINEAGE:
        out[column] = lineage[column].to_numpy()
    for column in ROUTING:
        out[column] = fr.null_strings(out)
    return out


@dataclass
class Mark:
    """Rows leaving at one stage: a boolean mask over the partition, their fate, the stage,
    the reason (one string, or a column aligned with the partition) and their records as
    JSON (indexed by the leaving rows; None when not kept)."""

    leaving: np.ndarray
    fate: str
    stage: str
    reasons: Column | str
    records: Column | None = None


def route_out(frame: Frame, marks: list[Mark]) -> Frame:
    """Mark the rows of ``marks`` (disjoint sets of live rows) as gone, writing each routing
    column once however many stages removed rows."""
    if not marks:
        return frame
    size = len(frame)
    leaving = np.zeros(size, dtype=bool)
    columns = {name: np.full(size, None, dtype=object) for name in ROUTING}
    for mark in marks:
        rows = np.flatnonzero(mark.leaving)
        leaving[rows] = True
        columns["_fate"][rows] = mark.fate
        columns["_stage"][rows] = mark.stage
        columns["_reasons"][rows] = (mark.reasons if isinstance(mark.reasons, str)
                                     else fr.to_host(mark.reasons[mark.leaving]))
        if mark.records is not None:
            columns["_record"][rows] = fr.to_host(mark.records)
    out = frame.copy(deep=False)
    for name, values in columns.items():
        out[name] = _replaced(out[name], leaving, values[leaving])
    return out


def _replaced(column: Column, leaving: np.ndarray, values: np.ndarray) -> Column:
    """``column`` with its ``leaving`` rows set to ``values`` (strings or None): on Arrow
    strings one Arrow kernel over the column (half the time of pandas' aligned ``mask``)."""
    lib = fr.library(column)
    arrow = fr.arrow_strings(column)
    if arrow is None:
        new = fr.strings_at(column, values, column.index[leaving])
        return fr.replace_where(column, lib.Series(leaving, index=column.index), new)
    replaced = pc.replace_with_mask(arrow, pa.array(leaving), pa.array(values, arrow.type))
    return lib.Series(replaced, index=column.index, dtype=column.dtype)


def rejected(
    lineage: Frame,
    fate: str,
    stage: str,
    reasons: Column | str,
    records: Column | None,
) -> Frame:
    """Records with no data row (unparseable lines): lineage and routing columns only,
    to be given the data columns by ``conform``."""
    out = lineage[LINEAGE].copy()
    lib = fr.library(out)
    out["_fate"] = lib.Series(fate, index=out.index, dtype="str")
    out["_stage"] = lib.Series(stage, index=out.index, dtype="str")
    out["_reasons"] = (
        lib.Series(reasons, index=out.index, dtype="str") if isinstance(reasons, str)
        else reasons.astype("str")
    )
    out["_record"] = records if records is not None else lib.Series(None, index=out.index,
                                                                    dtype="str")
    return out


def conform(frame: Frame, meta: Frame) -> Frame:
    """Give ``frame`` exactly ``meta``'s columns and dtypes, adding typed null columns."""
    lib = fr.library(frame)
    for column in meta.columns:
        if column not in frame.columns:
            frame[column] = lib.Series(index=frame.index, dtype=meta[column].dtype)
    return frame[list(meta.columns)].astype(meta.dtypes.to_dict())


def empty_routed(data_meta: Frame) -> Frame:
    """The empty routed frame for the given data columns (the graph's meta)."""
    out = data_meta.iloc[:0].copy()
    for column, dtype in _HIDDEN_DTYPES.items():
        out[column] = pd.Series(dtype=dtype)
    return out
