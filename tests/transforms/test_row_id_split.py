import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms.row_id import RowId
from assay.transforms.split import assign_split
from tests.transforms.helpers import apply_checked


def test_row_id_is_stable_int64_and_depends_only_on_values(people):
    result = apply_checked(RowId(columns=["name", "age"]), people)
    ids = result.frame["row_id"]
    assert str(ids.dtype) == "Int64"
    assert ids.is_unique
    shuffled = people.iloc[::-1].reset_index(drop=True)
    again = RowId(columns=["name", "age"]).apply(shuffled).frame["row_id"]
    assert again.tolist() == ids.tolist()[::-1]
    other = RowId(columns=["name"], into="id").apply(people).frame
    assert "id" in other.columns and other["id"].tolist() != ids.tolist()


def test_row_id_validates():
    with pytest.raises(ValidationError):
        RowId(columns=[])


def test_split_is_deterministic_by_key_and_honours_fractions():
    frame = pd.DataFrame({"user": [f"u{i}" for i in range(20000)]}).astype("str")
    fractions = {"train": 0.7, "valid": 0.2, "test": 0.1}
    split = assign_split(frame, ["user"], fractions, seed=7)
    assert str(split.dtype) == "str"
    shares = split.value_counts(normalize=True)
    for name, share in fractions.items():
        assert abs(shares[name] - share) < 0.02
    # same key, same split: in another frame, order and partition
    part = frame.iloc[[5, 17, 3]].reset_index(drop=True)
    assert (
        assign_split(part, ["user"], fractions, seed=7).tolist() == split.iloc[[5, 17, 3]].tolist()
    )
    reseeded = assign_split(frame, ["user"], fractions, seed=8)
    assert (reseeded != split).mean() > 0.3


def test_split_duplicate_keys_share_a_split():
    frame = pd.DataFrame({"k": [1, 2, 1, 2, 1]})
    split = assign_split(frame, ["k"], {"a": 0.5, "b": 0.5}, seed=0)
    assert split[0] == split[2] == split[4] and split[1] == split[3]


@pytest.mark.parametrize(
    ("fractions", "key"),
    [
        ({"a": 0.5, "b": 0.4}, ["k"]),
        ({"a": 1.5, "b": -0.5}, ["k"]),
        ({}, ["k"]),
        ({"a": 1.0}, ["nope"]),
    ],
)
def test_split_validates(fractions, key):
    with pytest.raises(ValueError):
        assign_split(pd.DataFrame({"k": [1]}), key, fractions, seed=0)
