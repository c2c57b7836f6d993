import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from assay.transforms.conditions import Condition
from assay.transforms.filtering import Filter
from tests.transforms.helpers import apply_checked, removed_list

condition = TypeAdapter(Condition)


def holds(spec: dict, frame: pd.DataFrame) -> list[bool]:
    mask = condition.validate_python(spec).evaluate(frame)
    assert mask.dtype == bool
    assert list(mask.index) == list(frame.index)
    return mask.tolist()


# people: name ["  Ann ", "bob", None, "Cécile", "dan"], age [31, NA, 45, 17, 60],
# score [1.5, 2.0, NaN, -3.0, 10.0], seen [2024-01-02, NaT, 2023-06-01, 2024-12-31, 2022-02-02]
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"column": "age", "op": "eq", "value": 45}, [False, False, True, False, False]),
        ({"column": "age", "op": "ne", "value": 45}, [True, False, False, True, True]),
        ({"column": "score", "op": "ne", "value": 2.0}, [True, False, False, True, True]),
        ({"column": "age", "op": "lt", "value": 31}, [False, False, False, True, False]),
        ({"column": "age", "op": "le", "value": 31}, [True, False, False, True, False]),
        ({"column": "score", "op": "gt", "value": 1.5}, [False, True, False, False, True]),
        ({"column": "score", "op": "ge", "value": 1.5}, [True, True, False, False, True]),
        (
            {"column": "name", "op": "in", "value": ["bob", "dan"]},
            [False, True, False, False, True],
        ),
        ({"column": "name", "op": "not_in", "value": ["bob"]}, [True, False, False, True, True]),
        ({"column": "age", "op": "is_null"}, [False, True, False, False, False]),
        ({"column": "name", "op": "not_null"}, [True, True, False, True, True]),
        ({"column": "name", "op": "matches", "value": "^[a-z]"}, [False, True, False, False, True]),
        ({"column": "age", "op": "between", "value": [17, 45]}, [True, False, True, True, False]),
        ({"column": "seen", "op": "ge", "value": "2024-01-01"}, [True, False, False, True, False]),
        (
            {"column": "seen", "op": "between", "value": ["2023-01-01", "2024-06-01T00:00:00Z"]},
            [True, False, True, False, False],
        ),
        (
            {
                "all": [
                    {"column": "age", "op": "gt", "value": 20},
                    {"column": "score", "op": "gt", "value": 0},
                ]
            },
            [True, False, False, False, True],
        ),
        (
            {
                "any": [
                    {"column": "age", "op": "is_null"},
                    {"column": "score", "op": "lt", "value": 0},
                ]
            },
            [False, True, False, True, False],
        ),
        ({"not": {"column": "age", "op": "gt", "value": 40}}, [True, True, False, True, False]),
    ],
)
def test_condition_ops(people, spec, expected):
    assert holds(spec, people) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"column": "a", "op": "in", "value": 1}, "needs a list"),
        ({"column": "a", "op": "between", "value": [1]}, "low, high"),
        ({"column": "a", "op": "is_null", "value": 1}, "takes no value"),
        ({"column": "a", "op": "eq"}, "single value"),
        ({"column": "a", "op": "matches", "value": "("}, "invalid regular expression"),
        ({"column": "a", "op": "like", "value": "x"}, "op"),
        ({"all": []}, "at least 1"),
        (7, "a condition is"),
        ({"column": "a", "op": "eq", "value": 1, "code": "os.system('x')"}, "Extra inputs"),
    ],
)
def test_bad_conditions_fail_at_load(spec, message):
    with pytest.raises(ValidationError, match=message):
        condition.validate_python(spec)


def test_filter_keep_removes_rows_where_condition_is_not_true(people):
    step = Filter(keep={"column": "age", "op": "ge", "value": 18})
    result = apply_checked(step, people)
    assert removed_list(result) == [False, True, False, True, False]  # null age is not kept
    assert result.fate == "dropped"
    assert result.reason == "failed keep condition"


def test_filter_drop_quarantine(people):
    step = Filter(
        name="no_minors", drop={"column": "age", "op": "lt", "value": 18}, action="quarantine"
    )
    result = apply_checked(step, people)
    assert removed_list(result) == [False, False, False, True, False]  # null age stays
    assert result.fate == "quarantined"
    assert result.reason == "matched drop condition"


def test_filter_needs_exactly_one_of_keep_and_drop():
    cond = {"column": "a", "op": "is_null"}
    with pytest.raises(ValidationError, match="exactly one"):
        Filter()
    with pytest.raises(ValidationError, match="exactly one"):
        Filter(keep=cond, drop=cond)


def test_filter_names_missing_columns(people):
    with pytest.raises(ValueError, match="no such column"):
        Filter(keep={"column": "height", "op": "is_null"}).apply(people)
