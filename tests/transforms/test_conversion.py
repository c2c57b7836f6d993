import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms.base import REASON_SEP
from assay.transforms.conversion import Cast, ParseTimestamp
from tests.transforms.helpers import apply_checked, removed_list


@pytest.fixture
def raw() -> pd.DataFrame:
    columns = {
        "amount": ["1.5", "abc", None, " 7 "],
        "qty": ["1", "2", "x", "9999999999"],
        "when": ["2024-01-02 03:04:05", "not a date", None, "2024-07-01 12:00:00"],
    }
    return pd.DataFrame(columns, index=[4, 2, 9, 1]).astype("str")


def test_cast_quarantines_failures_with_a_reason_per_row(raw):
    result = apply_checked(Cast(columns={"amount": "float64", "qty": "int32"}), raw)
    assert result.frame["amount"].dtype == "float64"
    assert result.frame["qty"].dtype == "Int32"
    assert result.frame["amount"].tolist()[0] == 1.5
    assert result.frame["amount"].tolist()[3] == 7.0
    assert removed_list(result) == [False, True, True, True]
    assert result.fate == "quarantined"
    assert list(result.reason) == [
        "",
        "amount is not float64",
        "qty is not int32",
        "qty is not int32",
    ]


def test_cast_reason_lists_every_failed_column():
    frame = pd.DataFrame({"a": pd.Series(["x"], dtype="str"), "b": pd.Series(["y"], dtype="str")})
    result = Cast(columns={"a": "int64", "b": "bool"}).apply(frame)
    assert list(result.reason) == [REASON_SEP.join(["a is not int64", "b is not bool"])]


def test_cast_on_error_null_keeps_rows(raw):
    result = apply_checked(Cast(columns={"amount": "float64"}, on_error="null"), raw)
    assert result.removed is None
    assert result.frame["amount"].isna().tolist() == [False, True, True, False]


def test_cast_validates_types():
    with pytest.raises(ValidationError):
        Cast(columns={"a": "decimal"})
    with pytest.raises(ValidationError):
        Cast(columns={"a": "int64"}, on_error="ignore")


def test_parse_timestamp_into_new_column_as_utc(raw):
    step = ParseTimestamp(
        column="when", format="%Y-%m-%d %H:%M:%S", timezone="Europe/Paris", into="ts"
    )
    result = apply_checked(step, raw)
    assert str(result.frame["ts"].dtype) == "datetime64[us, UTC]"
    assert result.frame["ts"].iloc[0] == pd.Timestamp("2024-01-02T02:04:05Z")
    assert result.frame["ts"].iloc[3] == pd.Timestamp("2024-07-01T10:00:00Z")  # summer time
    assert result.frame["when"].equals(raw["when"])
    assert removed_list(result) == [False, True, False, False]
    assert result.fate == "quarantined"
    assert "when is not a timestamp" in result.reason


def test_parse_timestamp_on_error_drop_and_null(raw):
    dropped = ParseTimestamp(column="when", on_error="drop").apply(raw)
    assert dropped.fate == "dropped"
    assert removed_list(dropped) == [False, True, False, False]
    nulled = apply_checked(ParseTimestamp(column="when", on_error="null"), raw)
    assert nulled.removed is None
    assert nulled.frame["when"].isna().tolist() == [False, True, True, False]


def test_parse_timestamp_rejects_unknown_zone():
    with pytest.raises(ValidationError, match="unknown timezone"):
        ParseTimestamp(column="when", timezone="Mars/Olympus")
