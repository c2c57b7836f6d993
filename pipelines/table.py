"""The dataset's Delta table, through delta-rs: open it, ask what is published, commit.

assay writes its own shards (deterministic bytes, sha256 known as written) and hands them to
delta-rs as add actions, so the log is the only moment a version appears, and every Delta
reader (deltalake, Polars, DuckDB, Spark, pandas via pyarrow) reads the result.

What was ingested is recorded in the log itself, as Delta application transactions
(``txn`` actions): ``assay-upload-<sha256>`` for each upload an appending run ingested and
``assay-run-<run id>`` for the run, each with the Delta version of its commit. So "is this
upload published, and where" is one lookup in the table's state, and it survives any crash
of the process that committed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from assay.pipelines.errors import SpecError, TransientStorageError

if TYPE_CHECKING:  # deltalake is imported where a table is opened or committed: the
    # modules that tasks import on process workers read only this module's names, and
    # importing deltalake costs each worker 16 MiB of its memory (benchmarks/RESULTS.md)
    from deltalake import CommitProperties, DeltaTable
    from deltalake.transaction import AddAction

ASSAY_FOLDER = "_assay"
RUNS = f"{ASSAY_FOLDER}/runs"
STAGING = f"{ASSAY_FOLDER}/staging"
QUARANTINE = "_quarantine"
SPLIT_COLUMN = "split"
# keys of a data commit's metadata in the log (``commit_metadata``)
RUN_ID = "assay.run_id"
PIPELINE = "assay.pipeline"
MODE = "assay.mode"
ROWS_ADDED = "assay.rows_added"
UPLOADS = "assay.uploads"
MANIFEST = "assay.manifest"
# commits tried in a row, each after another writer's commit took the version
COMMIT_ATTEMPTS = 15


def table_uri(sink_path: str) -> str:
    """What delta-rs opens: an absolute local path (also for fsspec protocols that are a
    local disk underneath), or the object store URL as given."""
    protocol, _, path = sink_path.rpartition("://")
    if protocol and not issubclass(fsspec.get_filesystem_class(protocol), LocalFileSystem):
        return sink_path.rstrip("/")
    return str(Path(path).absolute())


def delta_options(options: dict[str, Any]) -> dict[str, str]:
    """fsspec storage options (as specs write them for s3fs) in delta-rs's terms.

    delta-rs (object_store) takes flat string keys. S3 commits use conditional puts, which
    every current S3 (and moto) honours, so no locking provider is needed."""
    client = options.get("client_kwargs") or {}
    endpoint = options.get("endpoint_url") or client.get("endpoint_url")
    pairs = {
        "AWS_ACCESS_KEY_ID": options.get("key"),
        "AWS_SECRET_ACCESS_KEY": options.get("secret"),
        "AWS_SESSION_TOKEN": options.get("token"),
        "AWS_REGION": client.get("region_name"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true" if str(endpoint or "").startswith("http://") else None,
        "AWS_SKIP_SIGNATURE": "true" if options.get("anon") else None,
    }
    translated = {key: str(value) for key, value in pairs.items() if value is not None}
    if translated.get("AWS_ENDPOINT_URL") or translated.get("AWS_ACCESS_KEY_ID"):
        translated["AWS_CONDITIONAL_PUT"] = "etag"
    return translated


def open_table(sink_path: str, options: dict[str, Any], version: int | None = None
               ) -> DeltaTable | None:
    """The sink's table (at ``version``, else the latest), or None where none exists yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(table_uri(sink_path), version=version,
                          storage_options=delta_options(options) or None)
    except TableNotFoundError:
        return None


def upload_app_id(sha256: str) -> str:
    return f"assay-upload-{sha256}"


def run_app_id(run_id: str) -> str:
    return f"assay-run-{run_id}"


def committed_in(table: DeltaTable | None, app_id: str) -> int | None:
    """The version whose commit recorded ``app_id``, or None where none did."""
    return None if table is None else table.transaction_version(app_id)


def rows_in(table: DeltaTable | None) -> int:
    """Rows of the table's current version, from the add actions' record counts."""
    if table is None:
        return 0
    counts = pa.table(table.get_add_actions(flatten=True)).column("num_records")
    return int(pc.sum(counts).as_py() or 0)


def add_action(path: str, size: int, rows: int, partition: dict[str, str]) -> AddAction:
    """A file already written at ``path`` (relative to the table root) as a Delta add."""
    from deltalake.transaction import AddAction

    return AddAction(path, size, partition, int(time.time() * 1000), True,
                     json.dumps({"numRecords": rows}))


def commit(sink_path: str, options: dict[str, Any], table: DeltaTable | None,
           actions: list[AddAction], schema: pa.Schema, partition_by: list[str], mode: str,
           metadata: dict[str, str], app_ids: list[str]) -> int:
    """One commit after ``table``, the version the caller read (None: no table yet):
    create the table (its first version) or append to it or overwrite it; ``app_ids`` are
    recorded as transactions carrying the version the commit lands as. Returns that
    version: the expected one, unless another writer's commit took it first.

    delta-rs would retry a lost commit itself, but with the transactions naming the version
    it lost, and a lost create as a second CREATE TABLE that replaces the table's metadata.
    So each attempt here commits exactly one version (no retry inside delta-rs); after a
    loss the table is read again and the commit, its transactions renumbered, goes after
    the winner's, where an append must still keep the table's columns."""
    from deltalake.exceptions import DeltaError

    for _ in range(COMMIT_ATTEMPTS):
        version = 0 if table is None else table.version() + 1
        properties = _properties(metadata, app_ids, version)
        try:
            _commit_as(sink_path, options, table, actions, schema, partition_by, mode,
                       properties)
            return version
        except DeltaError:
            latest = open_table(sink_path, options)
            if latest is None or latest.version() < version:
                raise  # no other writer took the version: a real failure
            table = latest
        if mode == "append":
            check_same_columns(table, sink_path, schema)
    raise TransientStorageError(f"{sink_path}: other writers' commits took the next version "
                                f"{COMMIT_ATTEMPTS} times in a row; nothing published")


def _commit_as(sink_path: str, options: dict[str, Any], table: DeltaTable | None,
               actions: list[AddAction], schema: pa.Schema, partition_by: list[str],
               mode: str, properties: CommitProperties) -> None:
    """Commit the version after ``table`` (creating the table where it is None), failing
    with delta-rs's ``CommitFailedError`` where another writer's commit took it."""
    from deltalake import Schema
    from deltalake.transaction import create_table_with_add_actions

    if table is None:
        create_table_with_add_actions(
            table_uri(sink_path), Schema.from_arrow(schema), actions, mode="error",
            partition_by=partition_by or None, storage_options=delta_options(options) or None,
            commit_properties=properties)
    else:
        table.create_write_transaction(actions, mode, schema,
                                       partition_by=partition_by or None,
                                       commit_properties=properties)


def version_of_run(table: DeltaTable | None, run_id: str) -> int | None:
    """The version whose commit run ``run_id`` made, looked up in the log (the latest
    table's ``history()``, which numbers versions right); None where no commit did."""
    if table is None:
        return None
    return next((c["version"] for c in table.history() if c.get(RUN_ID) == run_id), None)


def _properties(metadata: dict[str, str], app_ids: list[str], version: int
                ) -> CommitProperties:
    from deltalake import CommitProperties, Transaction

    return CommitProperties(custom_metadata=metadata, max_commit_retries=0,
                            app_transactions=[Transaction(a, version) for a in app_ids])


def check_same_columns(table: DeltaTable | None, sink_path: str, schema: pa.Schema) -> None:
    """An append must not change the columns of ``table``, the version it appends to
    (delta-rs would commit files whose columns the table's schema does not describe); a
    first run (None) creates the table."""
    from deltalake import Schema

    if table is None:
        return
    have = {f.name: _type_name(f.type) for f in table.schema().fields}
    want = {f.name: _type_name(f.type) for f in Schema.from_arrow(schema).fields}
    if have != want:
        changed = sorted(n for n in have.keys() | want.keys() if have.get(n) != want.get(n))
        detail = ", ".join(f"{n}: {have.get(n, 'absent')} in the table, "
                           f"{want.get(n, 'absent')} in this run" for n in changed)
        raise SpecError(f"{sink_path}: an append must keep the table's columns ({detail}); "
                        "change them with one run in sink.mode: overwrite")



def commit_info(log_entry: str) -> dict[str, Any]:
    """The ``commitInfo`` of one log entry (the text of ``_delta_log/<version>.json``).
    Read there, not through ``DeltaTable.history()``: delta-rs 1.6 numbers that list from
    the loaded version down, so on a table loaded at an older version it names the wrong
    commits."""
    for line in log_entry.splitlines():
        action = json.loads(line) if line.strip() else {}
        if "commitInfo" in action:
            return action["commitInfo"]
    return {}


def _type_name(delta_type: Any) -> str:
    """``double`` for a primitive Delta type, its description for a nested one."""
    return str(getattr(delta_type, "type", delta_type))


def split_values(split: str | None) -> dict[str, str]:
    """A shard's partition values: its split, where the dataset is split."""
    return {SPLIT_COLUMN: split} if split else {}


def table_schema(shard_schema: pa.Schema, split: bool) -> pa.Schema:
    """The table's columns: the shards', and the partition column of a split dataset (not
    inside the shards: hive style)."""
    return shard_schema.append(pa.field(SPLIT_COLUMN, pa.string())) if split else shard_schema


def commit_metadata(manifest: dict) -> dict[str, str]:
    """What a data commit says about itself in the log (``DeltaTable.history()``): the run,
    how it wrote, what it ingested and where its full manifest is."""
    return {
        RUN_ID: manifest["run_id"],
        PIPELINE: manifest["pipeline"],
        MODE: manifest["mode"],
        ROWS_ADDED: str(manifest["rows_added"]),
        UPLOADS: json.dumps([{"path": i["path"], "sha256": i["sha256"]}
                             for i in manifest["inputs"]]),
        MANIFEST: f"{RUNS}/{manifest['run_id']}/manifest.json",
    }
