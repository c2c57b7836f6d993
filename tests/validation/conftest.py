"""Fixtures: GE's own pandas engine as the oracle, and the native gate run through Dask."""

from __future__ import annotations

import logging
import math
import os
import pickle
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pytest

from assay.transforms.masks import REASON_SEP
from assay.validation.dask_gate import answer_requests, gate_statistics, gate_verdicts
from assay.validation.expectations import REGISTRY
from assay.validation.expectations.column_map_more import _ColumnType
from assay.validation.expectations.frames import plain_view
from assay.validation.expectations.pairs import RecordExpectation
from assay.validation.gate import GateEvaluator, GateResult
from assay.validation.results import jsonable
from assay.validation.suite import parse_suite
from tests.validation import ge_record
from tests.validation.ge_record import RecordedOracle

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _attach(part: Any, verdict: pd.Series) -> Any:
    verdict = verdict.iloc[0]
    reasons = verdict.reasons.reindex(part.index, fill_value="")  # the failing rows' only
    return part.assign(_gate_failed=verdict.failed, _gate_reasons=reasons)


def route_failures(live: Any, verdicts: Any) -> Any:
    """``live`` plus which rows fail a row-level expectation and why, as the engine routes
    them: from the same per-partition verdicts as the statistics, in the same graph."""
    meta = live._meta.assign(_gate_failed=pd.Series(dtype=bool),
                             _gate_reasons=pd.Series(dtype="str"))
    return live.map_partitions(_attach, verdicts, meta=meta, align_dataframes=False)


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


def sees_plain_dtypes(kind: str) -> bool:
    """Whether the expectation judges the columns as GE's users load them (pandas' default
    dtypes, ``frames.plain_view``): dtype checks and record conditions."""
    cls = REGISTRY.get(kind)
    return cls is not None and issubclass(cls, RecordExpectation | _ColumnType)


@pytest.fixture(scope="session")
def ge_validate() -> Iterator[Callable[..., dict[str, Any]]]:
    """GE 1.24's result (``to_json_dict``: success, result, exception_info) for one
    expectation config on a dataframe, recorded or GE's own (``ge_record``)."""
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
    oracle = RecordedOracle(ge_record.mode())
    plain_views: dict[bytes, pd.DataFrame] = {}  # the catalogue asks of few frames, often

    def validate(frame: pd.DataFrame, config: dict[str, Any], keep: bool = True
                 ) -> dict[str, Any]:
        """``keep=False`` for a generated frame: asked of GE, never recorded."""
        if sees_plain_dtypes(config["type"]):
            data = pickle.dumps(frame)
            if data not in plain_views:
                plain_views[data] = plain_view(frame)
            frame = plain_views[data]

        def ask() -> dict[str, Any]:
            expectation = ExpectationConfiguration(**config).to_domain_obj()
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            return batch.validate(expectation, result_format="SUMMARY").to_json_dict()

        return oracle.answer(frame, config, ask, keep)

    yield validate
    oracle.save()


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
    answers = answer_requests(live, evaluator.requests)
    verdicts = gate_verdicts(live, evaluator, answers)
    stats = gate_statistics(verdicts, evaluator)
    routed = route_failures(live, verdicts)
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


def exact_observed(frame: pd.DataFrame, config: dict[str, Any]) -> Any:
    """The exact sum or mean of a numeric column, where GE's may wrap or round in row
    order (``assay.validation.expectations.exact``); None for other expectations."""
    stat = config["type"].removeprefix("expect_column_").removesuffix("_to_be_between")
    column = config["kwargs"].get("column")
    if stat not in ("sum", "mean") or not pd.api.types.is_numeric_dtype(frame[column]):
        return None
    values = frame[column].dropna().tolist()
    if not values:
        return 0 if stat == "sum" else None
    if math.inf in values and -math.inf in values:
        return None  # NaN: observed null
    if math.inf in values or -math.inf in values:
        return math.inf if math.inf in values else -math.inf
    if all(isinstance(v, bool | int) for v in values):
        total = sum(int(v) for v in values)
        return total if stat == "sum" else total / len(values)
    exact = sum(Fraction(v) for v in values) / (1 if stat == "sum" else len(values))
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


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


def ge_answers(ge_validate: Callable, frames: dict[str, pd.DataFrame], cases: list[dict],
               applies: Callable[[str, dict], bool] = lambda name, case: True
               ) -> dict[tuple[str, int], dict[str, Any]]:
    """GE's result for every (frame name, case index) that ``applies``: a module's oracle."""
    return {
        (name, i): ge_validate(frame, case)
        for name, frame in frames.items()
        for i, case in enumerate(cases)
        if applies(name, case)
    }


def _distinct_label_groups(labels: list[str]) -> list[list[int]]:
    """Indices of ``labels`` in as few groups as have no label twice, so that within one
    gate a routed row's reasons say which case routed it."""
    groups: list[list[int]] = []
    for i, label in enumerate(labels):
        free = next((g for g in groups if all(labels[j] != label for j in g)), None)
        if free is None:
            groups.append(free := [])
        free.append(i)
    return groups


def assert_routes_unexpected(oracle: dict, frame_name: str, frame: pd.DataFrame,
                             cases: list[dict], npartitions: int = 3) -> None:
    """Per row-level case, the rows the gate routes with that case's reason number GE's
    unexpected_count (the cases run a group to a gate: one gate per case took minutes)."""
    counted = [i for i, _ in enumerate(cases)
               if "unexpected_count" in oracle[(frame_name, i)]["result"]]
    labels = [e.label for e in parse_suite([cases[i] for i in counted], name="s").expectations]
    for group in _distinct_label_groups(labels):
        _, routed = run_native(frame, [cases[counted[j]] for j in group],
                               npartitions=npartitions)
        given = routed["_gate_reasons"].str.split(REASON_SEP)
        for j in group:
            reason = f"g: {labels[j]}"
            routed_here = int(given.map(lambda texts, r=reason: r in texts).sum())
            expected = oracle[(frame_name, counted[j])]["result"]["unexpected_count"]
            assert routed_here == expected, cases[counted[j]]
        assert int(routed["_gate_failed"].sum()) == int((routed["_gate_reasons"] != "").sum())
