import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from pydantic import ValidationError

from assay.transforms import frame as fr
from assay.transforms.dedup import BUCKETS, LINE_BITS, Dedup, in_lineage_order, index_slots


def uploads() -> pd.DataFrame:
    """Rows from two files with duplicates inside and across files, nulls, and keepers
    that are not first in the frame order."""
    rows = [
        # _source_id, _source_line, a, b
        (1, 5, "x", 1.0),
        (0, 9, "x", 1.0),  # keeper of (x, 1.0): smallest lineage
        (0, 2, "y", None),
        (1, 1, "y", None),  # duplicate of (y, NaN): nulls compare equal
        (0, 3, "y", 2.0),
        (1, 7, None, 2.0),
        (0, 4, None, 2.0),
        (1, 2, "z", 3.0),
        (0, 8, "x", 1.0),
    ]
    frame = pd.DataFrame(rows, columns=["_source_id", "_source_line", "a", "b"])
    return frame.astype({"_source_id": "int32", "_source_line": "int64", "a": "str"})


def run(step: Dedup, frame: pd.DataFrame, npartitions: int) -> pd.DataFrame:
    live = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    marked = step.apply_dask(live, ["a", "b"], input_bytes=1000)
    out = marked.compute()
    assert len(out) == len(frame)
    assert out["_removed"].dtype == bool
    return out.sort_values(["_source_id", "_source_line"]).reset_index(drop=True)


def kept(out: pd.DataFrame) -> set[tuple[int, int]]:
    rows = out.loc[~out["_removed"], ["_source_id", "_source_line"]]
    return set(map(tuple, rows.to_numpy().tolist()))


def test_dedup_keeps_first_row_in_input_order(dask_client):
    out = run(Dedup(), uploads(), npartitions=3)
    assert kept(out) == {(0, 2), (0, 3), (0, 4), (0, 8), (1, 2)}
    # the index hash a dataset-wide dedup routed on stays with the rows, for the sink
    assert list(out.columns) == ["_source_id", "_source_line", "a", "b", "_index_hash",
                                 "_removed"]
    assert out["_index_hash"].equals(fr.key_hash(out, ["a", "b"]))
    in_run = run(Dedup(scope="run"), uploads(), npartitions=3)
    assert list(in_run.columns) == ["_source_id", "_source_line", "a", "b", "_removed"]


def test_dedup_on_a_subset_of_columns(dask_client):
    out = run(Dedup(columns=["a"]), uploads(), npartitions=2)
    assert kept(out) == {(0, 2), (0, 4), (0, 8), (1, 2)}


def test_dedup_is_identical_whatever_the_partitioning(dask_client):
    frame = pd.concat([uploads()] * 3, ignore_index=True)
    frame["_source_line"] = range(len(frame))[::-1]
    one, three = run(Dedup(), frame, 1), run(Dedup(), frame, 3)
    pd.testing.assert_frame_equal(one, three)
    assert (~one["_removed"]).sum() == 5


def _shuffle_inputs(marked: dd.DataFrame) -> int:
    """How many inputs the p2p shuffle of ``marked``'s graph takes (its transfer tasks)."""
    return sum(str(key[0] if isinstance(key, tuple) else key).startswith("shuffle-transfer")
               for key in marked.optimize().__dask_graph__())


def test_joined_blocks_make_fewer_shuffle_inputs_and_the_same_rows(dask_client):
    """``shuffle_blocks`` concatenates consecutive read partitions before the shuffle: fewer
    inputs for p2p's per-(input, output) work, the same rows marked."""
    frame = pd.concat([uploads()] * 4, ignore_index=True)
    frame["_source_line"] = range(len(frame))
    live = dd.from_pandas(frame, npartitions=6, sort=False)
    with dask.config.set({"dataframe.shuffle.method": "p2p"}):
        apart = Dedup().apply_dask(live, ["a", "b"], input_bytes=1000)
        joined = Dedup(shuffle_blocks=4).apply_dask(live, ["a", "b"], input_bytes=1000)
        assert (_shuffle_inputs(apart), _shuffle_inputs(joined)) == (6, 2)
        pd.testing.assert_frame_equal(apart.compute().reset_index(drop=True),
                                      joined.compute().reset_index(drop=True))
    with pytest.raises(ValidationError):
        Dedup(shuffle_blocks=0)


def test_hash_collisions_never_remove_distinct_rows(dask_client, monkeypatch):
    # every row gets the same hash: only real equality may mark duplicates
    monkeypatch.setattr(
        "assay.transforms.dedup._key_hash",
        lambda part, key: fr.library(part).Series(0, index=part.index, dtype="uint64"),
    )
    out = run(Dedup(), uploads(), npartitions=3)
    assert kept(out) == {(0, 2), (0, 3), (0, 4), (0, 8), (1, 2)}


def test_dedup_validates_columns():
    with pytest.raises(ValidationError):
        Dedup(columns=[])
    assert Dedup().is_global
    with pytest.raises(ValueError, match="no such column"):
        Dedup(columns=["zz"]).output_columns(["a"])


def test_a_dataset_wide_dedup_spreads_rows_over_more_partitions_than_buckets(dask_client):
    """Rows route by slots of the index's buckets: with more partitions than buckets, far
    more than BUCKETS partitions get rows and none many times its share (routing by bucket
    left at most BUCKETS partitions holding everything, each input / BUCKETS large)."""
    n, partitions = 60_000, 2 * BUCKETS
    frame = pd.DataFrame({"_source_id": 0, "_source_line": range(n),
                          "a": [f"row {i % 50_000}" for i in range(n)], "b": 1.0})
    frame = frame.astype({"_source_id": "int32", "_source_line": "int64", "a": "str"})
    live = dd.from_pandas(frame, npartitions=4, sort=False)
    step = Dedup(partition_bytes=1)
    assert index_slots(partitions) % BUCKETS == 0
    marked = step.apply_dask(live, ["a", "b"], input_bytes=partitions).persist()
    sizes = marked.map_partitions(len).compute().to_numpy()
    assert len(sizes) == partitions and sizes.sum() == n
    assert (sizes > 0).sum() > 1.8 * BUCKETS and sizes.max() < 3 * n / partitions, sizes
    out = marked.compute()
    assert int(out["_removed"].sum()) == n - 50_000  # each repeated key removed once
    assert set(out.columns) == {*frame.columns, "_removed", "_index_hash"}


@pytest.mark.parametrize("line_offset", [0, 1 << LINE_BITS], ids=["packed", "too-long-to-pack"])
def test_lineage_order_is_by_input_then_line_whatever_the_labels(line_offset):
    frame = uploads().set_axis([3, 3, 0, 1, 1, 2, 0, 5, 4])  # a shuffle repeats labels
    frame["_source_line"] += line_offset
    ordered = in_lineage_order(frame)
    expected = frame.sort_values(["_source_id", "_source_line"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ordered, expected)
    assert list(ordered.index) == list(range(len(frame)))
