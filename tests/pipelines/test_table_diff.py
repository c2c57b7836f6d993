"""Diffing two versions: rows added and removed from the log's file sets, schema changes,
and per-column statistics computed in a streaming pass (exact ones checked against pandas,
the distinct-count estimate against its stated error)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from assay.pipelines.column_stats import column_stats
from assay.pipelines.distinct_sketch import DistinctSketch
from assay.pipelines.errors import DatasetError
from assay.pipelines.table_diff import diff_versions
from tests.care_kit import commit_run


@pytest.fixture
def table(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    commit_run(root, {"train": pa.table({"id": [1, 2, 3], "x": [1.0, None, 3.0]}),
                      "test": pa.table({"id": [9], "x": [9.0]})}, mode="overwrite")
    commit_run(root, {"train": pa.table({"id": [4, 5], "x": [4.0, 5.0]})})
    commit_run(root, {"train": pa.table({"id": ["a", None], "y": [1, 2]})}, mode="overwrite")
    return root


def test_rows_added_and_removed_come_from_the_file_sets(table: Path) -> None:
    appended = diff_versions(str(table), 0, 1)
    assert (appended.rows_a, appended.rows_b) == (4, 6)
    assert (appended.rows_added, appended.rows_removed) == (2, 0)
    assert (appended.files_added, appended.files_removed) == (1, 0)
    replaced = diff_versions(str(table), 1, 2)
    assert (replaced.rows_added, replaced.rows_removed) == (2, 6)
    assert (replaced.files_added, replaced.files_removed) == (1, 3)


def test_default_is_the_one_before_latest_against_latest(table: Path) -> None:
    assert (diff_versions(str(table)).a, diff_versions(str(table)).b) == (1, 2)
    assert (diff_versions(str(table), 0).a, diff_versions(str(table), 0).b) == (0, 2)
    assert (diff_versions(str(table), b=1).a, diff_versions(str(table), b=1).b) == (0, 1)


def test_schema_changes(table: Path) -> None:
    changes = {(c.column, c.change, c.before, c.after)
               for c in diff_versions(str(table), 1, 2).schema}
    assert changes == {("id", "type changed", "int64", "string"),
                       ("y", "added", None, "int64"), ("x", "removed", "double", None)}
    assert diff_versions(str(table), 0, 1).schema == ()


def test_columns_side_by_side(table: Path) -> None:
    found = diff_versions(str(table), 1, 2)
    columns = {c.column: c for c in found.columns}
    assert list(columns) == ["id", "y", "split", "x"]  # B's order, then A's removed ones
    x = columns["x"]
    assert x.b is None and x.a is not None
    assert (x.a.rows, x.a.nulls, x.a.min, x.a.max, x.a.distinct) == (6, 1, 1.0, 9.0, 5)
    assert x.a.mean == pytest.approx((1 + 3 + 9 + 4 + 5) / 5)
    ids = columns["id"]
    assert (ids.a.type, ids.b.type) == ("int64", "string")
    assert ids.b.null_rate == 0.5 and ids.b.mean is None and ids.b.min == "a"
    assert (columns["split"].a.distinct, columns["split"].b.distinct) == (2, 1)


def test_a_table_of_one_version_has_nothing_to_diff(tmp_path: Path) -> None:
    commit_run(tmp_path, {None: pa.table({"id": [1]})})
    with pytest.raises(DatasetError, match="version 0 has no version before it"):
        diff_versions(str(tmp_path))


def test_unknown_and_vacuumed_versions_are_one_line(table: Path) -> None:
    with pytest.raises(DatasetError, match=r"no version 5 \(the latest is version 2\)$"):
        diff_versions(str(table), 0, 5)
    for shard in table.glob("split=test/*.parquet"):
        shard.unlink()
    with pytest.raises(DatasetError, match="version 0 is no longer readable"):
        diff_versions(str(table), 0, 2)


def test_exact_statistics_match_pandas_over_many_batches() -> None:
    rng = np.random.default_rng(7)
    size = 10_000
    values = rng.normal(50, 10, size)
    values[rng.random(size) < 0.1] = np.nan
    table = pa.table({
        "x": pa.array(values, from_pandas=True),  # NaN -> null
        "n": pa.array(rng.integers(-5, 5, size)),
        "s": pa.array([None if i % 7 == 0 else f"v{i % 300:03d}" for i in range(size)]),
        "t": pa.array([datetime(2024, 1, 1 + i % 28) for i in range(size)]),
        "b": pa.array(rng.random(size) < 0.25),
    })
    stats = column_stats(ds.dataset(table), batch_size=999)
    frame = table.to_pandas()
    for name in ("x", "n", "b"):
        assert stats[name].mean == pytest.approx(frame[name].mean(), rel=1e-12), name
    for name in ("x", "n", "s", "t", "b"):
        column = frame[name]
        assert stats[name].null_rate == column.isna().mean(), name
        assert stats[name].min == column.dropna().min(), name
        assert stats[name].max == column.dropna().max(), name
    for name in ("n", "s", "t", "b"):  # up to 4,096 values: exact
        assert stats[name].distinct == frame[name].nunique(), name
        assert not stats[name].distinct_estimated
    assert math.isclose(stats["x"].distinct, frame["x"].nunique(), rel_tol=0.03)
    assert stats["x"].distinct_estimated
    assert stats["s"].mean is None and stats["t"].mean is None


def test_the_distinct_estimate_keeps_its_error_and_its_memory() -> None:
    sketch = DistinctSketch()
    for start in range(0, 300_000, 50_000):  # every value twice, over many batches
        batch = pa.array(np.arange(start, start + 50_000) * 7919)
        sketch.add(batch)
        sketch.add(batch)
    assert math.isclose(sketch.count(), 300_000, rel_tol=0.03)  # ~4 standard errors
    assert sketch.exact is None and sketch.registers.nbytes == 16 * 1024


def test_the_distinct_count_is_exact_up_to_its_limit() -> None:
    sketch = DistinctSketch()
    for start in range(0, 4096, 1000):
        sketch.add(pa.array([f"value {i}" for i in range(start, min(start + 1000, 4096))]))
        sketch.add(pa.array(["value 0", None]))
    assert sketch.count() == 4096
    sketch.add(pa.array(["one more"]))
    assert sketch.exact is None and math.isclose(sketch.count(), 4097, rel_tol=0.03)
