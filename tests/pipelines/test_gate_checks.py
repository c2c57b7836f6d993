"""What ``assay validate`` checks in a spec's gates, and what a failed gate says.

Every refused expectation is named (not only the first); a gate's expectation on a column
that will not exist after the steps before it, or a numeric one on a column of text, fails
the spec with one line naming the gate, the expectation and the column. A gate that fails
at run time names each failed expectation's columns and cause.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from assay.pipelines.errors import GateAborted, SpecError


def _e(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


def _gate(*expectations: dict, **gate: Any) -> list[dict[str, Any]]:
    return [{"name": "quality", "policy": "abort", "expectations": list(expectations), **gate}]


def _problems(make_spec, **overrides: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        make_spec(**overrides)
    return str(caught.value).splitlines()


def test_every_unsupported_expectation_is_named(make_spec) -> None:
    lines = _problems(make_spec, gates=_gate(
        _e("column_values_to_be_fancy", column="id"),
        _e("column_values_to_not_be_null", column="id"),
        _e("column_values_to_be_unicorn", column="id"),
        _e("column_values_to_be_between", column="id", min_value="soon")))
    assert len(lines) == 3, lines
    assert all(line.startswith(f"{lines[0].split(':')[0]}: gates[0] (quality): expectations[")
               for line in lines)
    assert [re.search(r"expectations\[(\d)\]", line)[1] for line in lines] == ["0", "2", "3"]
    assert "'expect_column_values_to_be_fancy' is not supported" in lines[0]
    assert "'expect_column_values_to_be_unicorn' is not supported" in lines[1]
    assert "min_value" in lines[2]


def test_every_gate_is_checked(make_spec) -> None:
    gates = [*_gate(_e("column_values_to_be_fancy", column="id")),
             {"name": "later", "policy": "abort",
              "expectations": [_e("column_mean_to_be_between", column="name", min_value=0)]}]
    lines = _problems(make_spec, gates=gates)
    assert [line.split(": ")[1] for line in lines] == ["gates[0] (quality)", "gates[1] (later)"]


def test_a_column_missing_at_the_gate_is_named_with_a_suggestion(make_spec) -> None:
    (line,) = _problems(make_spec, gates=_gate(
        _e("column_values_to_be_between", column="amout", min_value=0)))
    assert line.endswith(
        "gates[0] (quality): expectations[0] (expect_column_values_to_be_between): column "
        "'amout' does not exist at this gate (did you mean 'amount'? its columns: id, name, "
        "amount)")


def test_columns_are_those_after_the_steps_before_the_gate(make_spec) -> None:
    steps = [{"op": "rename", "columns": {"amount": "total"}, "name": "renamed"},
             {"op": "drop", "columns": ["name"]}]
    gates = [{"name": "early", "policy": "abort", "after": "renamed",
              "expectations": [_e("column_values_to_not_be_null", column="name"),
                               _e("column_values_to_not_be_null", column="amount")]},
             {"name": "late", "policy": "abort",
              "expectations": [_e("column_values_to_not_be_null", column="name"),
                               _e("column_values_to_not_be_null", column="total")]}]
    lines = _problems(make_spec, steps=steps, gates=gates)
    assert len(lines) == 2, lines
    assert "gates[0] (early): expectations[1]" in lines[0] and "'amount'" in lines[0]
    assert "gates[1] (late): expectations[0]" in lines[1] and "'name'" in lines[1]


@pytest.mark.parametrize("expectation", [
    _e("column_mean_to_be_between", column="name", min_value=0),
    _e("column_values_to_be_between", column="name", min_value=0),
    _e("column_quantile_values_to_be_between", column="name",
       quantile_ranges={"quantiles": [0.5], "value_ranges": [[0, 1]]}),
    _e("multicolumn_sum_to_equal", column_list=["id", "name"], sum_total=1),
])
def test_a_numeric_expectation_on_text_is_refused(make_spec, expectation) -> None:
    (line,) = _problems(make_spec, gates=_gate(expectation))
    assert f"({expectation['type']}): column 'name' holds text (str); this expectation " \
           "needs numbers" in line


def test_a_cast_before_the_gate_makes_text_numeric(make_spec) -> None:
    make_spec(steps=[{"op": "cast", "columns": {"name": "float64"}, "on_error": "null"}],
              gates=_gate(_e("column_mean_to_be_between", column="name", min_value=0)))


def test_unlisted_upload_columns_are_not_refused_when_kept(make_spec) -> None:
    schema = {"columns": [{"name": "id", "type": "int64"}], "extra_columns": "keep"}
    make_spec(schema=schema, gates=_gate(_e("column_values_to_not_be_null", column="extra")))


def test_a_failed_gate_names_each_expectation_its_columns_and_cause(make_spec, uploads, run):
    uploads("a.csv", b"id,name,amount\n1,ann,5.0\n2,bob,-1.5\n3,cy,\n")
    spec = make_spec(gates=_gate(
        _e("column_values_to_be_between", column="amount", min_value=0),
        _e("column_min_to_be_between", column="amount", min_value="2024-01-01")))
    with pytest.raises(GateAborted) as caught:
        run(spec)
    message = str(caught.value)
    assert "expect_column_values_to_be_between(amount) (upload: 1 of 3 rows unexpected)" \
        in message
    assert "expect_column_min_to_be_between(amount) (dataset: could not be evaluated: " \
        "'>=' not supported between instances of 'float' and 'datetime.date')" in message
