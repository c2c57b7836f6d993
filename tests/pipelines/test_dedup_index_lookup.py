"""The index lookup on its own: a probe's rows against one part, by hash and then by value,
with buckets spread over several row groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.pipelines import dedup_index
from assay.transforms import frame as fr
from assay.transforms.dedup import index_bucket

KEY = ["id", "name"]


def keys(ids: range | list[int]) -> pd.DataFrame:
    return pd.DataFrame({"id": pd.array(list(ids), dtype="int64"),
                         "name": pd.array([f"n{i % 7}" for i in ids], dtype="str")})


def written_part(tmp_path, stored: pd.DataFrame, monkeypatch) -> pq.ParquetFile:
    monkeypatch.setattr(dedup_index, "ROW_GROUP_ROWS", 3)  # buckets over several groups
    table = pa.Table.from_pandas(stored, preserve_index=False)
    step = dedup_index.IndexedStep("dedup", tuple(KEY), "run")
    dedup_index.write(table, fr.key_hash(stored, KEY).to_numpy(), step, str(tmp_path), {}, 0)
    (path,) = (tmp_path / "index" / "dedup" / dedup_index.PARTS).glob("*")
    return pq.ParquetFile(path)


def test_only_open_rows_equal_in_value_match(tmp_path, monkeypatch):
    stored = keys(range(0, 400, 2))  # even ids
    part = written_part(tmp_path, stored, monkeypatch)
    probe = keys([10, 12, 13, 14, 15, 398, 401])
    hashes = fr.key_hash(probe, KEY).to_numpy().copy()
    hashes[3] = hashes[2]  # id 15 collides with id 13, an odd id the part does not hold
    hashes[2] = fr.key_hash(keys([20]), KEY).to_numpy()[0]  # id 13 collides with stored 20
    probe_index = dedup_index._Probe(probe, hashes, index_bucket(pd.Series(hashes)).to_numpy())
    open_rows = np.array([0, 2, 3, 5, 6])  # 12 (row 1) and 14 (row 4) were found earlier
    assert part.metadata.num_row_groups > 10
    assert probe_index.matches(part, open_rows).tolist() == [0, 5]  # ids 10 and 398
