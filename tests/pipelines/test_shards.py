"""Shards as the host writer encodes them: dictionaries only where they pay."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.pipelines.sink.shards import _distinct_at_most, arrow_schema, write_shards
from assay.pipelines.spec import SinkSpec


def test_only_string_columns_with_few_distinct_values_get_a_dictionary(tmp_path: Path):
    rows = 20_000
    frame = pd.DataFrame({
        "few": [f"country {i % 6}" for i in range(rows)],
        "many": [f"text {i * 7919 % 9973} {i}" for i in range(rows)],
        "n": range(rows),
    }).astype({"few": "str", "many": "str"})
    sink = SinkSpec(path=str(tmp_path), row_group_rows=5_000)
    (shard,) = write_shards(frame, arrow_schema(frame.iloc[:0]), str(tmp_path), "p0", sink)
    parquet = pq.ParquetFile(shard["path"])
    group = parquet.metadata.row_group(0)
    dictionary = {group.column(i).path_in_schema: group.column(i).has_dictionary_page
                  for i in range(group.num_columns)}
    assert dictionary == {"few": True, "many": False, "n": False}
    assert parquet.read().to_pandas().astype({"few": "str", "many": "str"}).equals(frame)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.none() | st.sampled_from("abcdefgh"), max_size=40),
       most=st.integers(0, 12))
def test_the_distinct_count_stops_early_only_where_the_answer_is_known(
        values: list[str | None], most: int) -> None:
    column = pa.chunked_array([pa.array(values, pa.string())])
    expected = len(set(values)) <= most
    assert _distinct_at_most(column, most) == expected
