"""run_chain: the rows each step removes are marked with the step, their reason and their
values at that step; live rows go on unchanged."""

from __future__ import annotations

import json

import pandas as pd

from assay.pipelines.chain import counted_chain, merge_counts, run_chain
from assay.pipelines.routing import live_mask, with_routing
from assay.transforms.conversion import Cast, ParseTimestamp
from assay.transforms.pii import Pii
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


def test_counted_chain_counts_only_rows_live_at_the_counting_step():
    data = pd.DataFrame({"text": pd.Series(["a@b.io", "c@d.io e@f.io", "x@y.io", None],
                                           dtype="str"),
                         "n": [1, -1, 2, 3]})
    lineage = pd.DataFrame({"_source_id": [0] * 4, "_source_line": range(2, 6)})
    steps = (RangeFilter(column="n", min=0), Pii(columns=["text"], kinds=["email", "ip"]))
    pair = counted_chain(with_routing(data, lineage), steps).iloc[0]
    out, counts = pair
    assert counts == {"pii": {"email": 2, "ip": 0}}  # row 2 left before pii saw it
    assert live_mask(out).tolist() == [True, False, True, True]
    assert merge_counts([counts, None, {"pii": {"phone": 1, "email": 3}}]) == {
        "pii": {"email": 5, "ip": 0, "phone": 1}}
    assert run_chain(with_routing(data, lineage), steps)["text"].tolist()[0] == "<EMAIL>"
