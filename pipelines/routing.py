"""The routed frame: how every row's fate travels through the Dask graph.

Each partition holds the data columns plus lineage (``_source_id``, ``_source_line``) and
routing columns. A live row has a null ``_fate``. A row that left the live set keeps its
lineage, its ``_fate`` (``quarantined`` or ``dropped``), the ``_stage`` that removed it, its
``_reasons`` (joined by ``REASON_SEP``; reasons name a category, never a row's value) and
``_record``: the row's values at that stage as JSON, or the raw line when it could not be
parsed. Its data columns are null. Keeping every row in one frame is what lets one
``dask.compute`` write shards, quarantine and the accounting together.
"""

from __future__ import annotations

import pandas as pd

from transforms import frame as fr
from transforms.frame import Column, Frame

LINEAGE = ["_source_id", "_source_line"]
ROUTING = ["_fate", "_stage", "_reasons", "_record"]
HIDDEN = LINEAGE + ROUTING
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
    return [c for c in frame.columns if c not in HIDDEN]


def live_mask(frame: Frame) -> Column:
    return frame["_fate"].isna()


def with_routing(data: Frame, lineage: Frame) -> Frame:
    """Live rows: data plus lineage (aligned row for row), routing columns null."""
    out = data.copy()
    for column in LINEAGE:
        out[column] = lineage[column].to_numpy()
    for column in ROUTING:
        out[column] = fr.library(data).Series(None, index=out.index, dtype="str")
    return out


def rejected(
    lineage: Frame,
    fate: str,
    stage: str,
    reasons: Column | str,
    records: Column | None,
) -> Frame:
    """Rows leaving the live set: lineage and routing columns only (data filled by conform)."""
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


def hidden_dtypes() -> dict[str, str]:
    return dict(_HIDDEN_DTYPES)
