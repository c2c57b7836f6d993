"""Fixtures: GE's own pandas engine as the oracle, and the native gate run through Dask."""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pytest

from validation.dask_gate import duplicate_values, gate_statistics
from validation.gate import GateEvaluator, GateResult
from validation.results import jsonable
from validation.suite import parse_suite

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _attach_failures(part: Any, evaluator: GateEvaluator, keys: list, *tables: Any) -> Any:
    failed, reasons = evaluator.row_failures(part, dict(zip(keys, tables, strict=True)))
    return part.assign(_gate_failed=failed, _gate_reasons=reasons)


def route_failures(live: Any, evaluator: GateEvaluator, duplicates: dict) -> Any:
    """``live`` plus which rows fail a row-level expectation and why, as the engine routes
    them: the duplicate tables broadcast to every partition, in the same graph."""
    keys = list(duplicates)
    meta = _attach_failures(live._meta, evaluator, keys, *([None] * len(keys)))
    return live.map_partitions(_attach_failures, evaluator, keys, *duplicates.values(),
                               meta=meta, align_dataframes=False)
COMPARED = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "observed_value",
    "partial_unexpected_list",
)


@pytest.fixture(scope="session")
def cluster():
    """An in-process two-worker cluster: the native side must work where tasks are pickled."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as lc,
        Client(lc, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def ge_validate() -> Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]]:
    """GE 1.24's result (``to_json_dict``) for one expectation config on a dataframe."""
    warnings.filterwarnings("ignore")
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("oracle")
    batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
        "all"
    )

    def validate(frame: pd.DataFrame, config: dict[str, Any]) -> dict[str, Any]:
        expectation = ExpectationConfiguration(**config).to_domain_obj()
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(expectation, result_format="SUMMARY").to_json_dict()

    return validate


def run_native(
    frame: pd.DataFrame,
    configs: list[dict[str, Any]],
    npartitions: int = 1,
    scheduler: Any = "sync",
    gate: str = "g",
) -> tuple[GateResult, pd.DataFrame]:
    """The gate's result and the routed frame, computed together in one ``dask.compute``."""
    evaluator = GateEvaluator(parse_suite(configs, name="suite"), gate)
    live = dd.from_pandas(frame, npartitions=npartitions)
    duplicates = duplicate_values(live, evaluator.duplicate_keys)
    stats = gate_statistics(live, evaluator, duplicates)
    routed = route_failures(live, evaluator, duplicates)
    stats, routed = dask.compute(stats, routed, scheduler=scheduler)
    return evaluator.result(stats), routed


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def _ge_nulls(value: Any) -> Any:
    """GE writes a null timestamp as the string 'NaT'; we write JSON null like other nulls."""
    if isinstance(value, list):
        return [_ge_nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: _ge_nulls(v) for k, v in value.items()}
    return None if value == "NaT" else value


def assert_agrees(ge: dict[str, Any], native: dict[str, Any], what: str = "") -> None:
    """Same success, same raised/not raised, same compared result fields (floats 1e-9 rel)."""
    ge_raised = bool(ge["exception_info"].get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in ge["exception_info"].values()
    )
    assert native["exception_info"]["raised_exception"] == ge_raised, (what, ge, native)
    assert native["success"] == ge["success"], (what, ge["result"], native["result"])
    ge_fields = {k: _ge_nulls(jsonable(v)) for k, v in ge["result"].items() if k in COMPARED}
    ours = {k: v for k, v in native["result"].items() if k in COMPARED}
    assert ge_fields.keys() == ours.keys(), (what, ge_fields, ours)
    for key, value in ge_fields.items():
        assert _close(value, ours[key]), (what, key, value, ours[key])
