"""The recorded oracle: keys that name what GE sees, and a record that cannot go stale
unnoticed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from tests.validation.conftest import run_native
from tests.validation.ge_record import FrameDigests, RecordedOracle

CONFIG = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}}
ANSWER = {"success": True, "result": {"element_count": 3, "unexpected_count": 0},
          "exception_info": {"raised_exception": False, "exception_traceback": "long",
                             "exception_message": None}}


def test_an_equal_frame_has_one_digest_whatever_its_pickle() -> None:
    frame = pd.DataFrame({"x": pd.array([1, None, 3], dtype="Int64"),
                          "s": pd.Series(["a", "b", None], dtype="str")})
    digest = FrameDigests()(frame)
    run_native(frame, [CONFIG], npartitions=2)  # may fill pandas' caches on the frame
    assert FrameDigests()(frame) == digest
    noted = frame.copy()
    noted.attrs["note"] = "carried by the pickle, unseen by GE"
    assert pickle.dumps(noted, protocol=5) != pickle.dumps(frame, protocol=5)
    assert FrameDigests()(noted) == digest


@pytest.mark.parametrize("other", [
    pd.DataFrame({"x": pd.array([1, 2], dtype="int64")}),
    pd.DataFrame({"x": pd.array([1, 2], dtype="float64")}),
    pd.DataFrame({"x": pd.array([1, 2], dtype="Int64")}, index=[1, 2]),
    pd.DataFrame({"y": pd.array([1, 2], dtype="Int64")}),
    pd.DataFrame({"x": pd.Categorical([1, 2], categories=[1, 2, 3])}),
])
def test_what_ge_could_tell_apart_changes_the_digest(other: pd.DataFrame) -> None:
    base = pd.DataFrame({"x": pd.array([1, 2], dtype="Int64")})
    assert FrameDigests()(other) != FrameDigests()(base)


def test_a_value_known_only_by_its_address_is_never_recorded(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [object(), object()]})
    oracle = RecordedOracle("record", tmp_path / "answers.jsonl.gz")
    asked = []
    oracle.answer(frame, CONFIG, lambda: asked.append(1) or ANSWER)
    oracle.answer(frame, CONFIG, lambda: asked.append(1) or ANSWER)
    oracle.save()
    assert len(asked) == 2 and not (tmp_path / "answers.jsonl.gz").exists()


def test_a_record_is_written_the_same_way_and_read_back(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, None]})
    for name in ("a.jsonl.gz", "b.jsonl.gz"):
        recording = RecordedOracle("record", tmp_path / name)
        assert recording.answer(frame, CONFIG, lambda: ANSWER)["success"] is True
        recording.save()
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    reading = RecordedOracle("recorded", tmp_path / "a.jsonl.gz", verified_one_in=2**40)
    answered = reading.answer(frame, CONFIG, _never_asked)
    assert answered["exception_info"]["exception_traceback"] is None  # not kept


def test_a_stale_record_fails_when_ge_is_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl.gz"
    frame = pd.DataFrame({"x": [1, 2, None]})
    recording = RecordedOracle("record", path)
    recording.answer(frame, CONFIG, lambda: ANSWER)
    recording.save()
    changed = {**ANSWER, "success": False}
    with pytest.raises(AssertionError, match="no longer matches GE's own"):
        RecordedOracle("live", path).answer(frame, CONFIG, lambda: changed)
    reordered = {**ANSWER, "result": {"unexpected_count": 0, "element_count": 3}}
    assert RecordedOracle("live", path).answer(frame, CONFIG, lambda: reordered)["success"]


def _never_asked() -> dict:
    raise AssertionError("a recorded answer was asked of GE again")
