"""The quarantine's ``_record`` JSON: UTC timestamps are formatted by Arrow over the whole
column (pandas' writer makes a Python object of each), and every record is still exactly
what pandas' own JSON writer writes for the row."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.transforms import frame as fr

YEARS_1_TO_9999 = st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999)
NEAR_EPOCH = st.integers(-2_000_000, 2_000_000)  # sub-millisecond values on both sides


def pandas_records(frame: pd.DataFrame) -> list[str]:
    text = frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    return text.rstrip("\n").split("\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(YEARS_1_TO_9999, NEAR_EPOCH, st.none()), min_size=1, max_size=40),
       st.sampled_from(["s", "ms", "us", "ns"]))
def test_utc_timestamps_are_written_as_pandas_writes_them(micros: list[int | None],
                                                          unit: str) -> None:
    stamps = pd.Series(np.array([np.datetime64("NaT") if m is None else m for m in micros],
                                dtype="datetime64[us]")).dt.tz_localize("UTC")
    if unit == "ns":  # within its range only
        stamps = stamps.where(stamps.dt.year.between(1678, 2261))
    frame = pd.DataFrame({"t": stamps.dt.as_unit(unit), "n": 1.5,
                          "s": pd.Series(["a/\"ü"] * len(stamps), dtype="str")})
    assert fr.records_as_json(frame).tolist() == pandas_records(frame)


def test_other_zones_are_left_to_pandas() -> None:
    stamps = pd.Series(pd.to_datetime(["1442-06-15T09:28:56.383Z", "2024-01-01T00:00:00.000Z"],
                                      utc=True)).dt.tz_convert("Asia/Kolkata")
    frame = pd.DataFrame({"t": stamps})
    assert fr.records_as_json(frame).tolist() == pandas_records(frame)
