"""run_chain: the rows each step removes are marked with the step, their reason and their
values at that step; live rows go on unchanged."""

from __future__ import annotations

import json

import pandas as pd

from assay.pipelines.chain import run_chain
from assay.pipelines.routing import live_mask, with_routing
from assay.transforms.conversion import Cast, ParseTimestamp
from assay.transforms.ranges import RangeFilter


def _partition() -> pd.DataFrame:
    data = pd.DataFrame({
        "amount": pd.Series([5.0, -1.0, None, 7.0, 2e6], dtype="float64"),
        "qty": pd.Series(["1", "2", "3", "y", "5"], dtype="str"),
        "ts": pd.Series(["2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", None,
                         "2024-03-01T00:00:00+01:00", "2024-12-31T23:59:59Z"], dtype="str"),
    }).set_axis(range(3, 8))  # a partition's index need not start at 0
    lineage = pd.DataFrame({"_source_id": [0] * 5, "_source_line": range(2, 7)},
                           index=data.index)
    return with_routing(data, lineage)


def test_single_check_steps_mark_each_removed_row_with_their_one_reason():
    steps = (ParseTimestamp(column="ts"),
             RangeFilter(column="amount", min=0, max=1e6, action="quarantine"),
             Cast(columns={"qty": "int64"}))
    out = run_chain(_partition(), steps)
    assert list(out.index) == list(range(3, 8))
    assert live_mask(out).tolist() == [True, False, True, False, False]
    gone = out[~live_mask(out)]
    assert gone["_stage"].tolist() == ["parse_timestamp", "cast", "range_filter"]
    assert gone["_reasons"].tolist() == ["ts is not a timestamp (ISO8601)",
                                         "qty is not int64", "amount out of range"]
    assert gone["_fate"].tolist() == ["quarantined"] * 3
    assert json.loads(gone["_record"].iloc[0])["ts"] == "2024-02-30T00:00:00Z"  # as read
    assert json.loads(gone["_record"].iloc[1])["ts"] == "2024-02-29T23:00:00.000Z"  # parsed
    live = out[live_mask(out)]
    assert [str(t) for t in live["ts"]] == ["2024-01-01 00:00:00+00:00", "NaT"]
    assert live["qty"].tolist() == [1, 3]
