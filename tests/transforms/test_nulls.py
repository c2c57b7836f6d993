import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms.nulls import DropNull, FillNull
from tests.transforms.helpers import apply_checked, removed_list


def test_fill_null_per_column_keeps_dtypes(people):
    step = FillNull(
        values={"name": "?", "age": 0, "score": 0.5, "active": False, "seen": "2000-01-01"}
    )
    result = apply_checked(step, people)
    out = result.frame
    assert out.dtypes.to_dict() == people.dtypes.to_dict()
    assert out["name"].tolist()[2] == "?"
    assert out["age"].tolist()[1] == 0
    assert out["score"].tolist()[2] == 0.5
    assert out["active"].tolist()[2] is False
    assert out["seen"].iloc[1] == pd.Timestamp("2000-01-01", tz="UTC")
    assert not out.isna().any().any()


def test_fill_null_refuses_a_value_of_the_wrong_type(people):
    with pytest.raises(ValueError, match="does not fit column age"):
        FillNull(values={"age": "many"}).apply(people)


def test_drop_null_any_and_all(people):
    any_ = apply_checked(DropNull(columns=["name", "age"]), people)
    assert removed_list(any_) == [False, True, True, False, False]
    assert any_.fate == "dropped"
    all_ = apply_checked(DropNull(columns=["age", "score"], how="all"), people)
    assert removed_list(all_) == [False, False, False, False, False]
    every = DropNull(action="quarantine").apply(people)
    assert removed_list(every) == [False, True, True, False, False]
    assert every.fate == "quarantined"
    assert "null in any of" in every.reason


def test_drop_null_validates():
    with pytest.raises(ValidationError):
        DropNull(how="some")
    with pytest.raises(ValidationError):
        DropNull(columns=[])
