"""Gates at dataset scope on real appending runs and real Delta tables, GE as the oracle.

An appending run judges a table-level expectation on the dataset after the append: the
published version's kept statistics merged with the run's. The oracle is GE's own engine
on the whole published table, read back with the dtypes the engine uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from assay.pipelines import compose
from assay.pipelines.errors import GateAborted, SpecError
from assay.pipelines.gate_scope import _ENGINE_TYPES
from assay.pipelines.spec import PipelineSpec
from assay.validation import kept
from tests.validation.conftest import _close
from tests.validation.conftest import ge_validate as ge_validate  # a fixture

REPO = Path(__file__).resolve().parents[2]
RECORDS = REPO / "data_samples" / "records"


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


def _csv(rows: list[tuple[int, str | None, float | None]]) -> bytes:
    lines = ["id,name,amount"] + [
        f"{i},{'' if n is None else n},{'' if a is None else a}" for i, n, a in rows]
    return ("\n".join(lines) + "\n").encode()


def _upload(start: int, count: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    names = rng.choice(["ann", "bob", "cy", "dee"], count)
    amounts = rng.normal(50, 20, count).round(3)
    return _csv([(start + i, None if i % 7 == 0 else str(names[i]),
                  None if i % 5 == 0 else float(amounts[i])) for i in range(count)])


@pytest.fixture
def append(dask_client, tmp_path: Path) -> Callable[..., Any]:
    """Run ``spec`` on one upload as upload ingestion does (appending)."""
    def run(spec: PipelineSpec, name: str, content: bytes) -> Any:
        path = tmp_path / "incoming" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        request = compose.load(spec, inputs=[str(path)], output=str(tmp_path / "out"))
        return compose.run_all(request.for_uploads(), client=dask_client)

    return run


def _gate_spec(make_spec, expectations: list[dict], **gate: Any) -> PipelineSpec:
    return make_spec(gates=[{"name": "g", "expectations": expectations, "policy": "abort",
                             **gate}])


def _results(version: Any) -> list[dict]:
    entry = version.manifest["gates"][0]
    return json.loads((Path(version.path) / entry["result_path"]).read_text())["results"]


def _published(version: Any) -> pd.DataFrame:
    table = DeltaTable(version.path).to_pyarrow_table()
    return table.to_pandas(types_mapper=_ENGINE_TYPES.get).sort_values("id", ignore_index=True)


ROW_COUNT = _e("table_row_count_to_be_between", min_value=1000)


def test_a_small_upload_passes_when_the_dataset_is_big_enough(make_spec, append):
    spec = _gate_spec(make_spec, [ROW_COUNT])
    append(spec, "big.csv", _upload(0, 1200, 1))
    small = append(spec, "small.csv", _upload(5000, 30, 2))
    assert small.version == 1
    (result,) = _results(small)
    assert result["success"] and result["result"]["observed_value"] == 1230
    assert result["meta"] == {"scope": "dataset"}
    gate = small.manifest["gates"][0]
    assert gate["scope"] == "dataset" and gate["reread"] == []
    assert gate["expectations"] == [{"type": ROW_COUNT["type"], "columns": [],
                                     "scope": "dataset", "success": True}]


def test_the_dataset_too_small_fails_and_upload_scope_judges_the_upload(make_spec, append):
    dataset = _gate_spec(make_spec, [ROW_COUNT])
    with pytest.raises(GateAborted, match=r"row_count_to_be_between \(dataset: 600\)"):
        append(dataset, "a.csv", _upload(0, 600, 1))
    upload = _gate_spec(make_spec, [ROW_COUNT], scope="upload")
    append(upload, "b.csv", _upload(1000, 1000, 2))
    small = _upload(5000, 30, 3)
    with pytest.raises(GateAborted, match=r"row_count_to_be_between \(upload: 30\)"):
        append(upload, "c.csv", small)
    assert append(dataset, "c.csv", small).manifest["rows"] == 1030


AGGREGATES = [
    _e("column_min_to_be_between", column="amount", min_value=-1e9),
    _e("column_max_to_be_between", column="amount", max_value=1e9),
    _e("column_mean_to_be_between", column="amount", min_value=-1e9, max_value=1e9),
    _e("column_sum_to_be_between", column="id", min_value=0),
    _e("column_stdev_to_be_between", column="amount", min_value=0),
    _e("column_proportion_of_non_null_values_to_be_between", column="name", min_value=0.5),
    _e("column_distinct_values_to_equal_set", column="name",
       value_set=["ann", "bob", "cy", "dee"]),
    _e("column_unique_value_count_to_be_between", column="name", min_value=1),
    _e("column_most_common_value_to_be_in_set", column="name",
       value_set=["ann", "bob", "cy", "dee"], ties_okay=True),
    _e("column_median_to_be_between", column="id", min_value=0),
    _e("column_quantile_values_to_be_between", column="amount", quantile_ranges={
        "quantiles": [0.1, 0.5, 0.9], "value_ranges": [[None, None]] * 3}),
    _e("table_columns_to_match_ordered_list", column_list=["id", "name", "amount"]),
]


def _agrees_with_ge(version: Any, oracle: Callable, configs: list[dict]) -> None:
    frame = _published(version)
    for config, ours in zip(configs, _results(version), strict=True):
        theirs = oracle(frame, config)
        assert ours["success"] == theirs["success"], config
        assert _close(ours["result"].get("observed_value"),
                      theirs["result"].get("observed_value")), config
        assert ours["meta"]["scope"] == "dataset"


def test_merged_statistics_equal_ge_on_the_whole_dataset(make_spec, append, ge_validate):
    spec = _gate_spec(make_spec, AGGREGATES, policy="warn")
    for i, (start, count) in enumerate([(0, 400), (1000, 250), (3000, 17)]):
        version = append(spec, f"u{i}.csv", _upload(start, count, i))
    assert version.manifest["gates"][0]["reread"] == []  # every statistic merged
    _agrees_with_ge(version, ge_validate, AGGREGATES)


def test_statistics_too_large_to_keep_are_reread(make_spec, append, ge_validate,
                                                 monkeypatch):
    monkeypatch.setattr(kept, "MAX_KEPT_DISTINCT", 100)  # ids: all distinct, not kept
    configs = [AGGREGATES[-3], AGGREGATES[3], AGGREGATES[6]]  # median(id), sum(id), names
    spec = _gate_spec(make_spec, configs, policy="warn")
    append(spec, "a.csv", _upload(0, 300, 1))
    version = append(spec, "b.csv", _upload(1000, 50, 2))
    assert version.manifest["gates"][0]["reread"] == ["value_counts(id)"]
    _agrees_with_ge(version, ge_validate, configs)


def test_a_version_without_kept_statistics_is_reread(make_spec, append, ge_validate):
    configs = [ROW_COUNT, *AGGREGATES[:3]]
    spec = _gate_spec(make_spec, configs, policy="warn")
    first = append(spec, "a.csv", _upload(0, 300, 1))
    for path in Path(first.path, "_assay", "runs").glob("*/gates/*.statistics.parquet"):
        path.unlink()  # as a version published before statistics were kept
    version = append(spec, "b.csv", _upload(1000, 50, 2))
    assert version.manifest["gates"][0]["reread"] == ["max(amount)", "mean(amount)",
                                                       "min(amount)"]
    assert _results(version)[0]["result"]["observed_value"] == 350
    _agrees_with_ge(version, ge_validate, configs)


def test_dataset_scope_is_refused_for_a_row_level_expectation(make_spec):
    unique = {**_e("column_values_to_be_unique", column="id"), "meta": {"scope": "dataset"}}
    with pytest.raises(SpecError, match="scope dataset is refused for a row-level") as caught:
        _gate_spec(make_spec, [unique])
    assert "\n" not in str(caught.value)
    with pytest.raises(SpecError, match=r"meta\.scope must be one of"):
        _gate_spec(make_spec, [{**ROW_COUNT, "meta": {"scope": "table"}}])


def test_one_expectation_may_judge_the_upload(make_spec, append):
    at_upload = {**_e("table_row_count_to_be_between", max_value=100),
                 "meta": {"scope": "upload"}}
    append(_gate_spec(make_spec, [ROW_COUNT]), "a.csv", _upload(0, 1000, 1))
    version = append(_gate_spec(make_spec, [ROW_COUNT, at_upload]), "b.csv",
                     _upload(5000, 20, 2))
    assert [r["result"]["observed_value"] for r in _results(version)] == [1020, 20]
    (gate,) = version.manifest["gates"]
    assert [e["scope"] for e in gate["expectations"]] == ["dataset", "upload"]


def test_the_records_sample_ingests_its_small_upload(dask_client, tmp_path):
    """The sample's own suite (row count at least 1000) took the 803-line upload alone;
    appended one by one, it judges the dataset and publishes both."""
    out = str(tmp_path / "records")
    uploads = [RECORDS / "uploads" / "records.jsonl", RECORDS / "uploads" / "records-2.jsonl.zst"]
    for number, upload in enumerate(uploads):
        request = compose.load(RECORDS / "pipeline.yaml", inputs=[str(upload)], output=out)
        version = compose.run_all(request.for_uploads(), client=dask_client)
        assert version.version == number
    (count,) = [r for r in _results(version)
                if r["expectation_config"]["type"] == ROW_COUNT["type"]]
    assert count["success"] and count["meta"]["scope"] == "dataset"
    # rows the gate saw in both runs: the second run's dedup dropped its twin of a row the
    # first published (the ad-hoc run over both drops it too)
    assert count["result"]["observed_value"] == 1993
    assert version.manifest["rows"] == DeltaTable(out).to_pyarrow_dataset().count_rows()
