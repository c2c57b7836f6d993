"""Reading a published dataset: ``assay.open_dataset(path, version)``.

The dataset is a Delta table that plain Delta readers read as it is (docs/dataset.md). This
reader adds what they lack: the manifest of the run that made a version, verification of
every file against the sha256 its run recorded, and conversions that keep the ``split``
column. Nothing heavy is imported until a dataset is opened.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assay.dataset_log import VersionInfo, manifest_path, read_json, read_version_info
from assay.dataset_verify import Verified, verify_files
from assay.pipelines.errors import DatasetCorrupt, DatasetError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import datasets
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable
    from pyarrow.fs import FileSystem

SPLIT = "split"  # the partition column, when the spec has a sink.split
_OLD_VERSION_FOLDER = re.compile(r"v\d{6}")

__all__ = ["Dataset", "Verified", "VersionInfo", "open_dataset"]


def open_dataset(path: str | os.PathLike[str], version: int | None = None, *,
                 storage_options: dict[str, str] | None = None) -> Dataset:
    """Open ``version`` (the latest when None) of the dataset at ``path``, a folder or an
    object-store URL. ``storage_options`` go to delta-rs as they are (its keys, such as
    ``AWS_ENDPOINT_URL``), for the log and for every file read through this dataset."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    uri = os.fspath(path)
    try:
        table = DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError as exc:
        raise DatasetError(_not_a_table(uri, storage_options)) from exc
    except DeltaError as exc:  # a file where a folder should be, storage refusing access
        raise DatasetError(f"cannot open {uri} as a Delta table: {exc}") from exc
    latest = table.version()
    if version is not None and version != latest:
        if not 0 <= version < latest:
            raise DatasetError(
                f"{uri} has no version {version} (the latest is version {latest})")
        try:
            table.load_as_version(version)
        except DeltaError as exc:  # its log entries were removed (Delta's log retention)
            raise DatasetError(f"{uri}: version {version} can no longer be read ({exc}); "
                                  f"the latest is version {latest}") from exc
    return Dataset(uri, table, storage_options)


class Dataset:
    """One version of a published dataset, fixed when opened: a later run does not change
    what it reads. Rows come in the order of ``files()``."""

    def __init__(self, path: str, table: DeltaTable,
                 storage_options: dict[str, str] | None) -> None:
        self.path = path
        self._table = table
        self._storage_options = storage_options

    def __repr__(self) -> str:
        return f"Dataset({self.path!r}, version={self.version})"

    @property
    def version(self) -> int:
        return self._table.version()

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The manifest of the run that made this version (of the newest run before it, when
        a maintenance commit such as a vacuum made it)."""
        for info in self._commits():
            if info.run_id is None:
                continue
            path = info.manifest_path or manifest_path(info.run_id)
            try:
                return read_json(self._fs, path)
            except FileNotFoundError as exc:
                raise DatasetCorrupt(f"{self.path}: the manifest of version {info.version} "
                                     f"({path}) is missing") from exc
        raise DatasetCorrupt(f"{self.path}: no assay run made version {self.version} or one "
                             "before it (no assay.run_id in their commits)")

    def history(self) -> list[VersionInfo]:
        """Every version up to this one, newest first, as its commit describes it. Versions
        whose log entries Delta's log retention removed are left out."""
        return list(self._commits())

    @cached_property
    def splits(self) -> dict[str, int]:
        """Rows of each split in this version, by name, counted from the Delta log without
        reading data; empty when the dataset has no split."""
        counts: dict[str, int] = {}
        for path, split, rows in self._shards:
            if split is None:
                continue
            if rows is None:
                raise DatasetCorrupt(f"{self.path}: the log gives no row count for {path}")
            counts[split] = counts.get(split, 0) + rows
        return dict(sorted(counts.items()))

    def files(self, split: str | None = None) -> list[str]:
        """Absolute URIs of the Parquet files this version reads (plain paths for a local
        table): by split, then run (a run id starts with its UTC start time), then shard."""
        return sorted(self._table.file_uris(file_pruning_predicate=self._split_filter(split)))

    def verify(self) -> Verified:
        """Hash every file this version reads and compare each with the sha256 its run's
        manifest recorded; raise DatasetCorrupt naming each missing or changed file."""
        return verify_files(self._fs, [path for path, _, _ in self._shards],
                            version=self.version, where=self.path)

    def to_arrow(self, split: str | None = None,
                 columns: list[str] | None = None) -> pa.Table:
        """This version's rows (or one split's) as a pyarrow Table. With a split, the
        ``split`` column is there, though the files do not hold it."""
        return self._arrow_dataset(split).to_table(columns=columns)

    def to_pandas(self, split: str | None = None,
                  columns: list[str] | None = None) -> pd.DataFrame:
        return self.to_arrow(split, columns).to_pandas()

    def to_polars(self, split: str | None = None,
                  columns: list[str] | None = None) -> pl.DataFrame:
        polars = _require("polars", "to_polars()", "pip install polars")
        return polars.from_arrow(self.to_arrow(split, columns))

    def to_dask(self, split: str | None = None,
                columns: list[str] | None = None) -> dd.DataFrame:
        """A Dask DataFrame with one partition per file, each read on a worker as
        ``to_pandas`` reads it (the storage options travel with the tasks)."""
        import dask
        import dask.dataframe as dd

        dataset = self._arrow_dataset(split)
        names = columns or dataset.schema.names
        meta = dataset.schema.empty_table().select(names).to_pandas()
        fragments = list(dataset.get_fragments())
        if not fragments:
            return dd.from_pandas(meta, npartitions=1)
        # Dask would turn object columns (lists) into strings and pandas' str into its own
        # string dtype; the partitions are already what to_pandas gives.
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_map(_read_fragment, fragments, schema=dataset.schema,
                               columns=names, meta=meta, label="assay-read",
                               enforce_metadata=False)

    def to_hf(self, split: str | None = None,
              columns: list[str] | None = None) -> datasets.Dataset:
        """A Hugging Face ``datasets.Dataset`` of this version's rows, held in memory (for
        more than fits, ``load_dataset("parquet", data_files=files(split))``)."""
        hf = _require("datasets", "to_hf()", "pip install 'assay[hf]'")
        return hf.Dataset(self.to_arrow(split, columns))

    @cached_property
    def _fs(self) -> FileSystem:
        return _storage(self._table.table_uri, self._storage_options)

    @cached_property
    def _shards(self) -> list[tuple[str, str | None, int | None]]:
        """``(path, split, rows)`` of every file this version reads, by path."""
        import pyarrow as pa

        actions = pa.table(self._table.get_add_actions(flatten=True))
        paths = actions["path"].to_pylist()
        column = f"partition.{SPLIT}"
        splits = (actions[column].to_pylist() if column in actions.column_names
                  else [None] * len(paths))
        return sorted(zip(paths, splits, actions["num_records"].to_pylist(), strict=True))

    def _commits(self) -> Iterator[VersionInfo]:
        for version in range(self.version, -1, -1):
            info = read_version_info(self._fs, version)
            if info is None:  # the log keeps a contiguous run of the newest entries
                return
            yield info

    def _split_filter(self, split: str | None) -> list[tuple[str, str, str]] | None:
        if split is None:
            return None
        if split not in self.splits:
            have = ", ".join(self.splits) or "none, it is not split"
            raise DatasetError(f"{self.path} version {self.version} has no split "
                                  f"{split!r} (its splits: {have})")
        return [(SPLIT, "=", split)]

    def _arrow_dataset(self, split: str | None) -> ds.FileSystemDataset:
        """delta-rs's pyarrow dataset of this version, its files in the order of ``files()``
        (delta-rs gives them in no stated order)."""
        import pyarrow.dataset as ds

        dataset = self._table.to_pyarrow_dataset(
            file_pruning_predicate=self._split_filter(split))
        fragments = sorted(dataset.get_fragments(), key=lambda fragment: fragment.path)
        return ds.FileSystemDataset(fragments, dataset.schema, dataset.format,
                                    dataset.filesystem)


def _read_fragment(fragment: ds.ParquetFileFragment, schema: pa.Schema,
                   columns: list[str]) -> pd.DataFrame:
    """One partition of ``to_dask``: one file, with its partition values as columns."""
    import pyarrow.dataset as ds

    one = ds.FileSystemDataset([fragment], schema, fragment.format, fragment.filesystem)
    return one.to_table(columns=columns).to_pandas()


def _storage(uri: str, storage_options: dict[str, str] | None) -> FileSystem:
    """The table's storage as a pyarrow filesystem rooted at the table, reached with the
    storage options delta-rs uses, so an object store needs no second configuration."""
    from deltalake.fs import DeltaStorageHandler
    from pyarrow.fs import PyFileSystem

    return PyFileSystem(DeltaStorageHandler(uri, storage_options))


def _not_a_table(uri: str, storage_options: dict[str, str] | None) -> str:
    """Why ``uri`` is no Delta table, from what is there."""
    from deltalake.exceptions import DeltaError
    from pyarrow.fs import FileSelector

    try:
        entries = _storage(uri, storage_options).get_file_info(FileSelector(""))
    except (DeltaError, OSError):
        entries = []
    names = sorted(entry.base_name for entry in entries)
    if not names:
        return f"no dataset at {uri}: nothing is there"
    if "LATEST" in names or any(_OLD_VERSION_FOLDER.fullmatch(name) for name in names):
        return (f"{uri} holds a dataset in the old layout (a LATEST file and v000001/ "
                "folders), not a Delta table: `assay convert` converts it")
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return f"{uri} is not a Delta table: no commit in its _delta_log/ (it holds {shown})"


def _require(module: str, caller: str, install: str) -> Any:
    """An optional library, or one line saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotFoundError(f"{caller} needs {module}, which is not installed: "
                                  f"{install}", name=module) from exc
