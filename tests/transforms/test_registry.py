"""Every op is registered under the name specs use, and steps load from YAML mappings."""

import functools
import operator
from typing import Annotated

import pandas as pd
import pytest
import yaml
from pydantic import Field, TypeAdapter, ValidationError

from assay.transforms.base import registered_steps

OPS = {
    "select",
    "drop",
    "rename",
    "cast",
    "fill_null",
    "drop_null",
    "normalize",
    "regex_replace",
    "regex_extract",
    "map_values",
    "filter",
    "clip",
    "range_filter",
    "parse_timestamp",
    "derive",
    "dedup",
    "near_dedup",
    "row_id",
    "language_id",
    "decontaminate",
    "pii",
    "gopher_quality",
    "gopher_repetition",
    "c4_quality",
    "fineweb_quality",
}


@pytest.fixture(scope="module")
def steps() -> TypeAdapter:
    union = functools.reduce(operator.or_, registered_steps().values())
    return TypeAdapter(list[Annotated[union, Field(discriminator="op")]])


def test_every_op_is_registered():
    assert set(registered_steps()) == OPS


def test_a_yaml_step_list_loads_and_runs(steps, people):
    spec = yaml.safe_load(
        """
        - {op: normalize, columns: [name], case: lower}
        - {op: filter, name: adults, keep: {column: age, op: ge, value: 18}}
        - {op: derive, column: older, expr: "age + 1"}
        - {op: select, columns: [name, older]}
        """
    )
    frame = people
    for step in steps.validate_python(spec):
        result = step.apply(frame)
        frame = result.frame if result.removed is None else result.frame[~result.removed]
    assert frame["name"].fillna("?").tolist() == ["ann", "?", "dan"]
    assert frame["older"].tolist() == [32, 46, 61]
    assert isinstance(frame, pd.DataFrame)


def test_errors_name_the_step_and_key(steps):
    with pytest.raises(ValidationError) as info:
        steps.validate_python([{"op": "select", "columns": ["a"]}, {"op": "clip", "colum": "a"}])
    locations = {tuple(e["loc"]) for e in info.value.errors()}
    assert (1, "clip", "colum") in locations
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        steps.validate_python([{"op": "eval", "expr": "1"}])


def test_the_step_order_does_not_depend_on_what_a_process_imported_first():
    """The spec's union and the generated reference follow this order: importing the gate
    machinery (which loads near_dedup's stages) before the step library must not change
    it."""
    import subprocess
    import sys

    script = ("import {first}\nfrom assay.transforms.base import registered_steps\n"
              "print(list(registered_steps()))")
    orders = {subprocess.run([sys.executable, "-c", script.format(first=first)],
                             capture_output=True, text=True, check=True).stdout
              for first in ("assay.validation.dask_gate", "assay.transforms.library")}
    assert len(orders) == 1
