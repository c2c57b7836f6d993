"""A gate that sees no rows (the steps removed them all) gives GE's verdict on an empty
batch of the same columns, every expectation of the catalogue's kinds included."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assay.pipelines.errors import GateAborted, UploadRejected
from tests.validation.conftest import assert_agrees
from tests.validation.conftest import ge_validate as ge_validate  # a fixture


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


SUITE = [
    _e("table_row_count_to_be_between", min_value=0, max_value=10),
    _e("table_row_count_to_equal", value=0),
    _e("table_columns_to_match_set", column_set=["id", "name", "amount"]),
    _e("column_to_exist", column="amount"),
    _e("column_values_to_not_be_null", column="name"),
    _e("column_values_to_be_between", column="amount", min_value=0),
    _e("column_values_to_be_unique", column="id"),
    _e("column_values_to_be_in_type_list", column="id", type_list=["int64"]),
    _e("column_mean_to_be_between", column="amount", min_value=0),
    _e("column_sum_to_be_between", column="amount", min_value=0),
    _e("column_min_to_be_between", column="id", min_value=0),
    _e("column_median_to_be_between", column="amount", min_value=0),
    _e("column_proportion_of_non_null_values_to_be_between", column="name", min_value=0.5),
    _e("column_distinct_values_to_contain_set", column="name", value_set=["ann"]),
    _e("column_most_common_value_to_be_in_set", column="name", value_set=["ann"]),
    _e("column_unique_value_count_to_be_between", column="name", min_value=0, max_value=3),
]


EMPTY = pd.DataFrame({"id": pd.Series([], dtype="int64"), "name": pd.Series([], dtype="str"),
                      "amount": pd.Series([], dtype="float64")})


def _spec(make_spec, suite: list[dict]) -> Any:
    return make_spec(
        steps=[{"op": "filter", "keep": {"column": "id", "op": "gt", "value": 100}}],
        gates=[{"name": "g", "policy": "quarantine", "expectations": suite}])


def test_a_gate_on_no_rows_gives_ges_results(make_spec, uploads, run, ge_validate) -> None:
    uploads("a.csv", b"id,name,amount\n1,ann,5.0\n2,bob,-1.5\n")
    passing = [c for c in SUITE if ge_validate(EMPTY, c)["success"]]
    version = run(_spec(make_spec, passing))
    entry = version.manifest["gates"][0]
    results = json.loads((Path(version.path) / entry["result_path"]).read_text())["results"]
    for config, native in zip(passing, results, strict=True):
        assert_agrees(ge_validate(EMPTY, config), native, what=config)


def test_a_gate_on_no_rows_fails_where_ge_fails(make_spec, uploads, run, ge_validate) -> None:
    uploads("a.csv", b"id,name,amount\n1,ann,5.0\n2,bob,-1.5\n")
    failing = [c for c in SUITE if not ge_validate(EMPTY, c)["success"]]
    with pytest.raises(GateAborted) as caught:
        run(_spec(make_spec, SUITE))
    message = str(caught.value)
    assert re.findall(r"(expect_\w+)\(", message) == [c["type"] for c in failing]
    assert "expect_column_mean_to_be_between(amount) (dataset: no value observed (no " \
        "non-null values))" in message
    assert "expect_column_distinct_values_to_contain_set(name) (dataset: 1 values of the " \
        "set missing)" in message


def test_an_empty_upload_is_still_rejected(make_spec, uploads, run) -> None:
    uploads("a.csv", b"id,name,amount\n")
    spec = make_spec(gates=[{"name": "g", "policy": "quarantine",
                             "expectations": [_e("table_row_count_to_equal", value=0)]}])
    with pytest.raises(UploadRejected):
        run(spec)
