"""Row routing (failure flags and reasons) and the one-pass wiring into a Dask graph."""

from __future__ import annotations

from collections import Counter
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

from assay.transforms.base import REASON_SEP
from assay.validation.dask_gate import answer_requests, gate_statistics, gate_verdicts
from assay.validation.gate import GateEvaluator
from assay.validation.suite import parse_suite
from tests.validation.conftest import route_failures, run_native

CALLS: Counter[int] = Counter()


def _counted(part: pd.DataFrame) -> pd.DataFrame:
    CALLS[int(part.index[0]) if len(part) else -1] += 1
    return part


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, 3, 3, 5, 6, 6, 8], dtype="Int64"),
            "name": pd.Series(["a", None, "c", "d", "", "f", "g", None], dtype="str"),
            "score": [0.5, 1.5, 0.2, None, 0.9, 0.1, 2.0, 0.3],
        }
    )
    frame.index = pd.RangeIndex(10, 90, 10)
    return frame


SUITE: list[dict[str, Any]] = [
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "score", "min_value": 0, "max_value": 1, "mostly": 0.5},
    },
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["id", "name"]}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}},
]


def test_reasons_name_gate_expectation_and_columns() -> None:
    result, routed = run_native(_frame(), SUITE, npartitions=3, gate="orders")
    reasons = routed["_gate_reasons"].to_dict()
    unique, not_null = (
        "orders: expect_column_values_to_be_unique(id)",
        "orders: expect_column_values_to_not_be_null(name)",
    )
    between = "orders: expect_column_values_to_be_between(score)"
    assert reasons[10] == ""
    assert reasons[20] == REASON_SEP.join([not_null, between])
    assert reasons[30] == unique and reasons[40] == unique  # duplicates span partitions
    assert reasons[70] == REASON_SEP.join([unique, between])
    assert reasons[80] == not_null
    assert routed["_gate_failed"].tolist() == [r != "" for r in routed["_gate_reasons"]]
    assert routed["_gate_failed"].dtype == bool
    assert sorted(result.row_level_failed) == [
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
    ]  # between passes thanks to mostly, yet its rows are still flagged
    assert result.aggregate_failed == ["expect_table_row_count_to_be_between"]
    assert not result.success


def test_missing_column_fails_the_gate_without_flagging_rows() -> None:
    suite = [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "nope"}}]
    result, routed = run_native(_frame(), suite, npartitions=2)
    assert not routed["_gate_failed"].any()
    assert result.aggregate_failed == ["expect_column_values_to_be_unique"]
    info = result.ge_result["results"][0]["exception_info"]
    assert info["raised_exception"] and '"nope"' in info["exception_message"]


def test_statistics_and_routing_share_one_pass_over_the_upstream(tmp_path) -> None:
    dd.from_pandas(_frame(), npartitions=3).to_parquet(tmp_path / "in")
    # a synchronous compute cannot run the p2p shuffle that a live distributed client
    # (from another test module) would otherwise select when the graph is built
    with dask.config.set({"dataframe.shuffle.method": "tasks"}):
        source = dd.read_parquet(tmp_path / "in")
        live = source.map_partitions(_counted, meta=source._meta)
        evaluator = GateEvaluator(parse_suite(SUITE, name="s"), "g")
        answers = answer_requests(live, evaluator.requests)
        verdicts = gate_verdicts(live, evaluator, answers)
        stats = gate_statistics(verdicts, evaluator)
        routed = route_failures(live, verdicts)
        write = routed[routed["_gate_failed"]].to_parquet(tmp_path / "out", compute=False)
        CALLS.clear()
        stats, _ = dask.compute(stats, write, scheduler="sync")
    assert len(CALLS) == 3 and set(CALLS.values()) == {1}, CALLS
    assert stats.rows == 8
    assert evaluator.result(stats).ge_result["results"][0]["result"]["unexpected_count"] == 4


def test_verdict_on_a_plain_partition() -> None:
    evaluator = GateEvaluator(parse_suite(SUITE[1:3], name="s"), "g")
    verdict = evaluator.evaluate(_frame(), {})
    failed, reasons = verdict.failed, verdict.reasons
    assert verdict.stats.rows == len(_frame())
    assert failed.index.equals(_frame().index)
    assert failed.tolist() == [False, True, False, False, False, False, True, True]
    assert str(reasons.dtype) == "str"


def test_the_hot_path_does_not_import_great_expectations() -> None:
    import subprocess
    import sys

    code = (
        "import sys, assay.validation, assay.validation.dask_gate; "
        "sys.exit('great_expectations' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
