"""The dedup index's key hash is stored, so it is pinned: it equals its written definition
(a plain loop over the values, below), known values never change, and it does not depend on
how the values are laid out (chunks, slices, widths, units) or on which side computed them."""

from __future__ import annotations

import datetime as dt
import math
import struct

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assay.transforms import frame as fr
from assay.transforms import key_hash as kh

MASK = 2**64 - 1


def _fmix(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    return h ^ (h >> 33)


def _word(value: object) -> int:
    """The module docstring's table, one Python value at a time."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return int(kh.NULL_WORD)
    if isinstance(value, str):
        data = value.encode()
        poly, power = 0, 1
        for byte in data:
            poly, power = (poly + byte * power) & MASK, (power * int(kh.PRIME)) & MASK
        return _fmix(poly ^ ((len(data) * int(kh.LENGTH_PRIME)) & MASK))
    if isinstance(value, float):
        return struct.unpack("<Q", struct.pack("<d", value + 0.0))[0]
    if isinstance(value, dt.datetime):
        return (round(value.timestamp() * 1_000_000) * 1000) & MASK
    return int(value) & MASK  # ints and bools


def _reference(rows: list[tuple]) -> list[int]:
    out = []
    for row in rows:
        h = 0
        for value in row:
            h = _fmix((h * int(kh.PRIME) + _word(value)) & MASK)
        out.append(h)
    return out


UTC = dt.UTC
ROWS = [
    (1, "a", 1.0, True, dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
    (-7, "", -0.0, False, dt.datetime(1969, 12, 31, tzinfo=UTC)),
    (2**62, None, None, None, None),
    (0, "Zoë \x00 日本" * 6_000, float("nan"), True, dt.datetime(2300, 1, 1, tzinfo=UTC)),
]


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["i", "s", "f", "b", "t"])
    return frame.astype({"i": "Int64", "s": "str", "f": "float64", "b": "boolean",
                         "t": "datetime64[us, UTC]"})


def test_the_hash_is_its_written_definition_and_known_values_never_change() -> None:
    hashes = fr.key_hash(_frame(ROWS), ["i", "s", "f", "b", "t"])
    assert hashes.dtype == "uint64"
    assert hashes.tolist() == _reference(ROWS)
    assert hashes.tolist()[:3] == [15577608935358577212, 2237576400544995634,
                                   11401258229484927233]


def test_equal_values_hash_equal_however_they_are_laid_out() -> None:
    text = pa.array(["x" * 70_000, "abc", "", None, "abc"])  # one string over a chunk
    words = kh.column_words(text)
    assert words[1] == words[4] and words[2] != words[3]
    assert kh.column_words(text.slice(4)).tolist() == [words[1]]
    assert kh.column_words(pa.chunked_array([text.slice(0, 2), text.slice(2)])).tolist() == (
        words.tolist())
    assert kh.column_words(text.cast(pa.large_string())).tolist() == words.tolist()
    assert kh.column_words(text.dictionary_encode()).tolist() == words.tolist()
    assert (kh.column_words(pa.array([1, None], pa.int32())).tolist()
            == kh.column_words(pa.array([1, None], pa.int64())).tolist())
    stamps = pd.Series(pd.to_datetime(["2024-05-06 07:08:09"], utc=True))
    assert (kh.column_words(pa.array(stamps.dt.as_unit("ns"))).tolist()
            == kh.column_words(pa.array(stamps.dt.as_unit("s"))).tolist())
    assert (kh.column_words(pa.array([1.5, float("nan")], pa.float32())).tolist()
            == kh.column_words(pa.array([1.5, None], pa.float64())).tolist())


def test_a_column_without_a_defined_word_is_refused_by_name() -> None:
    frame = pd.DataFrame({"d": pd.Series([pa.scalar(1, pa.decimal128(5, 2)).as_py()])})
    with pytest.raises(TypeError, match=r"column 'd': no stable key hash for a column of "
                                        r"type decimal128"):
        fr.key_hash(frame, ["d"])


def test_the_index_hash_spreads_keys_over_the_buckets() -> None:
    frame = pd.DataFrame({"n": np.arange(100_000)})
    buckets = np.bincount((fr.key_hash(frame, ["n"]).to_numpy() % 256).astype(int))
    assert buckets.min() > 300 and buckets.max() < 500  # 390 each on average


def test_hash_rows_hashes_equal_rows_equal_with_the_kernel_on_typed_columns() -> None:
    frame = pd.DataFrame({
        "i": pd.array([1, 1, None, None, 2], dtype="Int64"),
        "f": [0.0, -0.0, float("nan"), None, 2.5],
        "s": pd.Series(["x", "x", None, None, "y"], dtype="str"),
        "t": pd.to_datetime(["2024-01-01"] * 4 + ["2025-01-01"], utc=True),
        "b": [True, True, False, False, True]})
    hashes = fr.hash_rows(frame)
    assert hashes.equals(fr.key_hash(frame, list(frame.columns)))  # the kernel's, not pandas'
    assert hashes.duplicated(keep=False).tolist() == frame.duplicated(keep=False).tolist()
    assert hashes.iloc[4] != hashes.iloc[0]


def test_hash_rows_leaves_object_columns_to_pandas_whatever_the_values() -> None:
    frame = pd.DataFrame({"o": pd.Series(["x", 1, None], dtype=object), "n": [1, 1, 2]})
    assert fr.hash_rows(frame).equals(fr.stable_hash_rows(frame))
    strings_only = frame.assign(o=pd.Series(["x", "y", None], dtype=object))
    assert fr.hash_rows(strings_only).equals(fr.stable_hash_rows(strings_only))
