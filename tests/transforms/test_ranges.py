import pytest
from pydantic import ValidationError

from assay.transforms.ranges import Clip, RangeFilter
from tests.transforms.helpers import apply_checked, removed_list


def test_clip_keeps_dtype_and_nulls(people):
    out = apply_checked(Clip(column="age", min=18, max=50), people).frame["age"]
    assert str(out.dtype) == "Int64"
    assert out.tolist()[0] == 31
    assert out.isna().tolist()[1]
    assert out.tolist()[2:] == [45, 18, 50]
    low = apply_checked(Clip(column="score", min=0), people).frame["score"]
    assert low.tolist()[3] == 0.0 and low.tolist()[4] == 10.0


@pytest.mark.parametrize(
    ("inclusive", "expected"),
    [
        ("both", [False, False, False, True, True]),
        ("neither", [True, False, True, True, True]),
        ("left", [False, False, True, True, True]),
        ("right", [True, False, False, True, True]),
    ],
)
def test_range_filter_inclusive(people, inclusive, expected):
    step = RangeFilter(column="age", min=31, max=45, inclusive=inclusive)
    assert removed_list(apply_checked(step, people)) == expected


def test_range_filter_nulls_and_reasons(people):
    step = RangeFilter(column="score", min=0, nulls="remove", action="quarantine")
    result = apply_checked(step, people)
    assert removed_list(result) == [False, False, True, True, False]
    assert result.fate == "quarantined"
    assert list(result.reason)[2:4] == [
        "score is null",
        "score out of range",
    ]


def test_range_filter_on_timestamps(people):
    step = RangeFilter(column="seen", min="2023-01-01", max="2024-06-30")
    assert removed_list(apply_checked(step, people)) == [False, False, False, True, True]


@pytest.mark.parametrize(
    "kwargs", [{}, {"min": 5, "max": 1}, {"min": 1, "max": "z"}, {"min": 1, "inclusive": "x"}]
)
def test_range_params_are_validated(kwargs):
    with pytest.raises(ValidationError):
        RangeFilter(column="a", **kwargs)
