import pytest
from pydantic import ValidationError

from assay.transforms.columns import Drop, Rename, Select
from tests.transforms.helpers import apply_checked


def test_select_keeps_listed_columns_in_the_given_order(people):
    result = apply_checked(Select(columns=["score", "name"]), people)
    assert list(result.frame.columns) == ["score", "name"]
    assert result.removed is None
    assert result.frame["score"].dtype == "float64"


def test_drop_removes_columns(people):
    result = apply_checked(Drop(columns=["age", "seen"]), people)
    assert list(result.frame.columns) == ["name", "score", "active"]


def test_rename_keeps_order_and_values(people):
    result = apply_checked(Rename(columns={"name": "full_name"}), people)
    assert result.frame.columns[0] == "full_name"
    assert result.frame["full_name"].equals(people["name"].rename("full_name"))


@pytest.mark.parametrize("step", [Select, Drop])
def test_unknown_column_is_named(people, step):
    with pytest.raises(ValueError, match=r"no such column.*'nope'"):
        step(columns=["nope"]).apply(people)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"columns": []},
        {"columns": ["a", "a"]},
        {"columns": ["a"], "extra": 1},
    ],
)
def test_bad_column_lists_fail_at_load(kwargs):
    with pytest.raises(ValidationError):
        Select(**kwargs)


def test_rename_refuses_duplicate_targets(people):
    with pytest.raises(ValidationError, match="several columns renamed"):
        Rename(columns={"name": "x", "age": "x"})
    with pytest.raises(ValueError, match="duplicate column"):
        Rename(columns={"name": "age"}).apply(people)
