"""The published dataset reads with each library's plain calls, without assay, as
docs/dataset.md shows them: the same rows as ``assay.open_dataset`` for the same version.
Also a remote table (moto's S3 on loopback) through ``storage_options``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

import assay
from assay.pipelines.errors import DatasetCorrupt
from tests.moto_kit import moto_s3
from tests.table_kit import TableKit, rows


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> TableKit:
    """Version 0 and 1 append, version 2 overwrites (its files replace theirs), 3 appends."""
    kit = TableKit(tmp_path_factory.mktemp("plain") / "events", split=True)
    kit.publish({"train": rows(0, 25), "test": rows(100, 5)})
    kit.publish({"train": rows(25, 10)})
    kit.publish({"train": rows(300, 12), "test": rows(400, 3)}, mode="overwrite")
    kit.publish({"test": rows(500, 4)})
    return kit


def _by_id(table: pa.Table) -> list[dict]:
    return table.sort_by("id").to_pylist()


@pytest.fixture(scope="module")
def expected(table: TableKit) -> dict[int, pa.Table]:
    """What assay reads for each version."""
    return {version: assay.open_dataset(table.root, version).to_arrow() for version in range(4)}


@pytest.mark.parametrize("version", [1, 3])
def test_deltalake(table: TableKit, expected, version: int) -> None:
    read = DeltaTable(table.root, version=version).to_pyarrow_table()
    assert _by_id(read) == _by_id(expected[version])


@pytest.mark.parametrize("version", [1, 3])
def test_polars_scan_delta(table: TableKit, expected, version: int) -> None:
    read = pl.scan_delta(str(table.root), version=version).collect()
    assert read.sort("id").equals(pl.from_arrow(expected[version]).sort("id"))


def test_pyarrow_dataset(table: TableKit, expected) -> None:
    dataset = DeltaTable(table.root).to_pyarrow_dataset()
    assert _by_id(dataset.to_table()) == _by_id(expected[3])
    test_rows = dataset.to_table(filter=ds.field("split") == "test")
    assert _by_id(test_rows) == _by_id(assay.open_dataset(table.root).to_arrow("test"))


def test_duckdb_over_the_pyarrow_dataset_and_the_file_list(table: TableKit, expected) -> None:
    """DuckDB's own ``delta_scan`` needs its ``delta`` extension, which DuckDB downloads when
    first used: with no network it is not there, so these read the files delta-rs lists."""
    dataset = DeltaTable(table.root).to_pyarrow_dataset()  # noqa: F841 (duckdb reads it by name)
    counts = duckdb.sql("SELECT split, count(*) FROM dataset GROUP BY split ORDER BY split")
    assert counts.fetchall() == [("test", 7), ("train", 12)]
    files = DeltaTable(table.root).file_uris()
    read = duckdb.read_parquet(files, hive_partitioning=True).to_arrow_table()
    assert _by_id(read.select(expected[3].column_names).cast(expected[3].schema)) == \
        _by_id(expected[3])


def test_hugging_face_load_dataset(table: TableKit, expected, tmp_path: Path) -> None:
    import datasets

    source = DeltaTable(table.root)
    whole = datasets.load_dataset("parquet", data_files=source.file_uris(), split="train",
                                  cache_dir=str(tmp_path))
    data_columns = [name for name in expected[3].column_names if name != "split"]
    assert _by_id(whole.with_format("arrow")[:]) == _by_id(expected[3].select(data_columns))
    by_split = datasets.load_dataset("parquet", cache_dir=str(tmp_path), data_files={
        name: source.file_uris(file_pruning_predicate=f"split = '{name}'")
        for name in ("train", "test")})
    assert {name: part.num_rows for name, part in by_split.items()} == {"train": 12, "test": 7}


def test_a_glob_reads_what_an_overwrite_removed(table: TableKit, expected) -> None:
    """Why the docs say to read through the log: the files of versions 0 and 1 stay on disk
    (until a vacuum) after version 2 replaced them."""
    globbed = pl.scan_parquet(f"{table.root}/**/*.parquet", hive_partitioning=True).collect()
    assert len(globbed) > expected[3].num_rows


def test_delta_rs_history_on_an_older_version_misnumbers_commits(table: TableKit) -> None:
    """Canary: assay.dataset_log reads each version's log entry itself because delta-rs
    1.6's ``history()`` on a table loaded at version 1 lists the newer commits too, numbered
    from 1 down. When this fails, delta-rs numbers them right and history() could be used."""
    history = DeltaTable(table.root, version=1).history()
    assert history[0]["version"] == 1
    assert history[0]["assay.run_id"] != table.run_ids[1]


# --- a table in an object store -----------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_table(table: TableKit) -> Iterator[dict[str, str]]:
    """The same table copied to moto's S3 on loopback; yields delta-rs storage options."""
    import boto3

    with moto_s3() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        for path in table.root.rglob("*"):
            if path.is_file():
                key = f"datasets/events/{path.relative_to(table.root).as_posix()}"
                s3.put_object(Bucket="lake", Key=key, Body=path.read_bytes())
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_ALLOW_HTTP": "true"}


def test_storage_options_reach_every_read(s3_table: dict[str, str], expected) -> None:
    """Last in this module: it removes a file from the copy."""
    dataset = assay.open_dataset("s3://lake/datasets/events", 1, storage_options=s3_table)
    assert dataset.files()[0].startswith("s3://lake/datasets/events/split=")
    assert dataset.manifest["version"] == 1
    assert [entry.version for entry in dataset.history()] == [1, 0]
    assert dataset.verify().files == len(dataset.files())
    assert _by_id(dataset.to_arrow()) == _by_id(expected[1])
    # worker processes open the files with the options the tasks carry
    frame = dataset.to_dask().compute(scheduler="processes", num_workers=2)
    assert _by_id(pa.Table.from_pandas(frame, preserve_index=False)
                  .cast(expected[1].schema)) == _by_id(expected[1])
    assert dataset.splits == {"test": 5, "train": 35}
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_table["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    gone = dataset.files()[-1].removeprefix("s3://lake/")
    s3.delete_object(Bucket="lake", Key=gone)
    with pytest.raises(DatasetCorrupt, match="missing from storage"):
        dataset.verify()
