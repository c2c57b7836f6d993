"""Routing rows out of a partition: the leaving rows get their fate, stage, reasons and
record; every other row keeps what it had, whether its strings are Arrow's (replaced by one
Arrow kernel) or Python objects (pandas' aligned mask)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.pipelines.routing import HIDDEN, QUARANTINED, Mark, route_out


def _partition(strings: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "_source_id": np.zeros(5, dtype="int32"), "_source_line": np.arange(2, 7),
        "_fate": [None, "dropped", None, None, None],
        "_stage": [None, "read", None, None, None],
        "_reasons": [None, "bad line", None, None, None],
        "_record": [None, "1,2,3", None, None, None]}, index=[10, 11, 12, 13, 14])
    return frame.astype({c: strings for c in ("_fate", "_stage", "_reasons", "_record")})


@pytest.mark.parametrize("strings", ["str", "object"])
def test_leaving_rows_are_marked_and_the_others_keep_their_routing(strings: str) -> None:
    part = _partition(strings)
    reasons = pd.Series([None, None, "amount: null", None, "amount: range"],
                        index=part.index, dtype="str")  # aligned with the partition
    marks = [Mark(np.array([False, False, True, False, True]), QUARANTINED, "amount",
                  reasons, pd.Series(['{"a":1}', '{"a":2}'], index=[12, 14], dtype="str")),
             Mark(np.array([True, False, False, False, False]), "dropped", "dedup",
                  "removed by dedup")]
    out = route_out(part, marks)
    assert out.index.tolist() == part.index.tolist()
    assert [out[c].dtype for c in HIDDEN] == [part[c].dtype for c in HIDDEN]
    rows = out[["_fate", "_stage", "_reasons", "_record"]].astype(object)
    assert rows.where(rows.notna(), None).to_numpy().tolist() == [
        ["dropped", "dedup", "removed by dedup", None],
        ["dropped", "read", "bad line", "1,2,3"],
        [QUARANTINED, "amount", "amount: null", '{"a":1}'],
        [None, None, None, None],
        [QUARANTINED, "amount", "amount: range", '{"a":2}']]
