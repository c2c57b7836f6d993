"""The registry is the one way in, every kwargs model is ready for a generated reference, and
a gate asks for each whole-table request once."""

from __future__ import annotations

import inspect

from assay.validation.expectations import REGISTRY, Expectation
from assay.validation.expectations.params import Params
from assay.validation.expectations.requests import DuplicatesOf, PreviousValue
from assay.validation.gate import GateEvaluator
from assay.validation.suite import parse_suite


def _subclasses(cls: type) -> set[type]:
    direct = set(cls.__subclasses__())
    return direct.union(*(_subclasses(sub) for sub in direct))


def test_every_expectation_class_is_registered_under_its_type() -> None:
    declared = {
        cls.type: cls
        for cls in _subclasses(Expectation)
        if "type" in cls.__dict__ and not inspect.isabstract(cls)
    }
    assert declared == REGISTRY


def test_every_kwarg_is_declared_with_a_description() -> None:
    for kind, cls in REGISTRY.items():
        assert issubclass(cls.params, Params), kind
        assert cls.params.model_config["extra"] == "forbid", kind
        schema = cls.params.model_json_schema()
        missing = [k for k, field in schema["properties"].items() if "description" not in field]
        assert not missing, (kind, missing)


def _e(kind: str, **kwargs: object) -> dict:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


def test_a_gate_builds_each_distinct_request_once() -> None:
    suite = parse_suite(
        [
            _e("column_values_to_be_unique", column="a"),
            _e("column_values_to_be_unique", column="a", mostly=0.5),
            _e("compound_columns_to_be_unique", column_list=["a", "b"]),
            _e("column_values_to_be_increasing", column="a"),
            _e("column_values_to_be_decreasing", column="a"),
            _e("column_values_to_not_be_null", column="a"),
        ],
        name="s",
    )
    assert GateEvaluator(suite, "g").requests == [
        DuplicatesOf(("a",)),
        DuplicatesOf(("a", "b")),
        PreviousValue("a"),
    ]
