"""The host side of the backend seam's column kernels give what pandas' own calls give."""

from __future__ import annotations

import pandas as pd
import pytest

from assay.transforms import frame as fr

INDEX = [10, 3, 7, 42, 5]
WHERE = pd.Series([False, True, False, True, True], index=INDEX)


@pytest.mark.parametrize(("values", "other"), [
    (pd.Series(["a", None, "c", "d", "e"], dtype="str"), pd.Series(["x", None, "z"], dtype="str")),
    (pd.Series(["a", None, "c", "d", "e"], dtype="string"),
     pd.Series(["x", None, "z"], dtype="str")),
    (pd.Series(["a", None, "c", "d", "e"], dtype="str"),
     pd.Series(["x", "y", "z"], dtype="string")),
    (pd.Series(pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04", "2024-01-05"],
                              utc=True)).dt.as_unit("us"),
     pd.Series(pd.to_datetime(["2025-01-01", None, "2025-01-03"], utc=True)).dt.as_unit("us")),
    (pd.Series([1, 2, 3, 4, 5], dtype="Int64"), pd.Series([7, None, 9], dtype="Int64")),
    (pd.Series([1, 2, 3, 4, 5], dtype="int64"), pd.Series([0.5, 1.5, 2.5])),
])
def test_replace_where_equals_series_mask(values: pd.Series, other: pd.Series) -> None:
    values = values.set_axis(INDEX).rename("col")
    before = values.copy()
    at = [i for i, hit in zip(INDEX, WHERE, strict=True) if hit]
    for order in (at, at[::-1]):  # matched by label, whatever the order of ``other``
        moved = other.set_axis(at).reindex(order)
        result = fr.replace_where(values, WHERE, moved)
        expected = values.mask(WHERE, moved)
        assert result.dtype == expected.dtype
        assert result.name == "col"
        pd.testing.assert_series_equal(result, expected)
        pd.testing.assert_series_equal(values, before)  # the input is untouched
