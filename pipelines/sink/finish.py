"""The last task of each partition: write its curated shards and quarantine piece to
staging, and return a small ledger (files written, rows by fate/stage/reason, rows by
input) from which the manifest's accounting is summed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.pipelines import dedup_index, killpoints
from assay.pipelines.dedup_index import IndexedStep
from assay.pipelines.errors import storage_errors, storage_failure
from assay.pipelines.routing import DROPPED, QUARANTINED, data_columns, live_mask
from assay.pipelines.sink.shards import host_table, parquet_codec, write_shards, write_table
from assay.pipelines.spec import SinkSpec
from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP
from assay.transforms.dedup import INDEX_HASH
from assay.transforms.frame import Column, Frame
from assay.transforms.masks import as_mask
from assay.transforms.split import assign_split

LEDGER_META = pd.DataFrame({
    "kind": pd.Series(dtype="str"),  # shard | quarantine | rows
    "path": pd.Series(dtype="str"),
    "split": pd.Series(dtype="str"),
    "rows": pd.Series(dtype="int64"),
    "bytes": pd.Series(dtype="int64"),
    "sha256": pd.Series(dtype="str"),
    "fate": pd.Series(dtype="str"),  # written | quarantined | dropped (kind == rows)
    "stage": pd.Series(dtype="str"),
    "reasons": pd.Series(dtype="str"),
    "source_id": pd.Series(dtype="int64"),
})


def quarantine_table(rows: pd.DataFrame, sources: list[str]) -> pa.Table:
    """Rejected rows as stored: source file and line, fate, stage, reasons list, record."""
    files = pa.array(sources, pa.string()).take(pa.array(rows["_source_id"].to_numpy()))
    reasons = pa.array(rows["_reasons"].fillna("").to_numpy(dtype=object), pa.string())
    return pa.table({
        "_source_file": files,
        "_source_line": pa.array(rows["_source_line"].to_numpy(), pa.int64()),
        "_fate": pa.array(rows["_fate"].to_numpy(dtype=object), pa.string()),
        "_stage": pa.array(rows["_stage"].to_numpy(dtype=object), pa.string()),
        "_reasons": pc.split_pattern(reasons, REASON_SEP),
        "_record": pa.array(rows["_record"].to_numpy(dtype=object), pa.string()),
    })


# a ledger row of one kind lacks the other kind's columns: the numbers read as these
_MISSING = {"rows": 0, "bytes": 0, "source_id": -1}
_ROUTED_KEYS = ["fate", "stage", "reasons", "source_id"]


def _row_counts(part: Frame, live: Column) -> dict[str, list]:
    """Rows by fate, stage, reasons and input, as ledger columns: live rows counted per
    input with numpy, the (few) routed rows grouped on their strings by Arrow, on the host
    (pandas' groupby cost about 13 ms a partition however few the rows)."""
    alive = live.to_numpy()
    per_input = np.bincount(part["_source_id"].to_numpy()[alive])
    inputs = np.flatnonzero(per_input)
    gone = fr.to_pandas(part.loc[~live, ["_fate", "_stage", "_reasons", "_source_id"]])
    fate = gone["_fate"]
    # dropped rows count by step only; their reasons (a near-dedup's name each row's
    # keeper) stay with their records, so they do not make a ledger row each
    reasons = gone["_reasons"].where(fate != DROPPED, "")
    routed = pa.table({
        "fate": pa.array(fate, pa.string()), "stage": pa.array(gone["_stage"], pa.string()),
        "reasons": pa.array(reasons, pa.string()),
        "source_id": pa.array(gone["_source_id"].to_numpy(), pa.int64()),
    }).group_by(_ROUTED_KEYS, use_threads=False).aggregate([([], "count_all")])  # the task's thread
    routed = routed.sort_by([(key, "ascending") for key in _ROUTED_KEYS]).to_pydict()
    written = len(inputs)
    return {
        "kind": ["rows"] * (written + len(routed["fate"])),
        "fate": ["written"] * written + routed["fate"],
        "stage": [""] * written + routed["stage"],
        "reasons": [""] * written + routed["reasons"],
        "source_id": inputs.tolist() + routed["source_id"],
        "rows": per_input[inputs].tolist() + routed["count_all"],
    }


def _ledger(entries: list[dict], counts: dict[str, list]) -> pd.DataFrame:
    """``LEDGER_META``'s columns: the files written, then the rows counted."""
    size = len(counts["kind"])
    columns = {}
    for name, dtype in LEDGER_META.dtypes.items():
        missing = _MISSING.get(name)
        values = [entry.get(name, missing) for entry in entries]
        values += counts[name] if name in counts else [missing] * size
        columns[name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(columns)


def finish_partition(
    part: Frame,
    staging: str,
    sink: SinkSpec,
    schema: pa.Schema,
    sources: list[str],
    indexed: tuple[IndexedStep, ...] = (),
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Write the partition's shards, quarantine piece and part of each dataset-wide
    dedup's index (``indexed``); return its ledger (pandas, on either backend: only file
    descriptions and counts leave a cuDF partition, besides the shards' encoded bytes and
    the rejected rows). On the host the live rows go to Arrow once, for the shards and the
    index alike (their conversion was 9% of the sink's time when each made its own)."""
    number = (partition_info or {}).get("number", 0)
    live = live_mask(part)
    curated = part.loc[live, data_columns(part)]
    rows = curated if fr.on_device(curated) else host_table(curated, schema)
    try:
        entries = _write_curated(curated, rows, staging, sink, schema, number)
        entries += _write_rejects(part, live, staging, sink, sources, number)
        for step in indexed:  # at most one: a dataset-wide dedup is the last step
            dedup_index.write(_key_table(curated, rows, step.key, schema),
                              fr.host_numbers(part[INDEX_HASH])[live.to_numpy()], step,
                              staging, sink.storage_options, number, parquet_codec(sink))
    except storage_errors() as exc:  # a full disk, an object store that refused the write
        raise storage_failure(staging, "write", exc) from exc
    return _ledger(entries, _row_counts(part, live))


def _key_table(curated: Frame, rows: Frame | pa.Table, key: tuple[str, ...],
               schema: pa.Schema) -> pa.Table:
    """The key columns of the live rows in Arrow: from ``rows`` where they are Arrow
    already, else brought to the host."""
    if isinstance(rows, pa.Table):
        return rows.select(list(key))
    return host_table(curated[list(key)], pa.schema([schema.field(name) for name in key]))


def _write_curated(curated: Frame, rows: Frame | pa.Table, staging: str, sink: SinkSpec,
                   schema: pa.Schema, number: int) -> list[dict]:
    """The partition's curated shards (per split; ``rows``: ``curated``, or the same rows in
    Arrow), as ledger entries."""
    entries: list[dict] = []
    groups = [("", rows)]
    if sink.split is not None and len(curated):
        labels = assign_split(curated, sink.split.key, sink.split.fractions, sink.split.seed)
        groups = [(name, _where(rows, labels == name)) for name in sink.split.fractions]
    for split, chosen in groups:
        if len(chosen) == 0:
            continue
        folder = f"{staging}/shards/{split}" if split else f"{staging}/shards"
        for shard in write_shards(chosen, schema, folder, f"p{number:06d}", sink):
            entries.append({"kind": "shard", "split": split, **shard})
    killpoints.reached("staging-write")
    return entries


def _where(rows: Frame | pa.Table, mask: Column) -> Frame | pa.Table:
    if isinstance(rows, pa.Table):
        return rows.filter(pa.array(fr.host_numbers(mask), pa.bool_()))
    return rows[mask]


def _write_rejects(part: Frame, live: Column, staging: str, sink: SinkSpec,
                   sources: list[str], number: int) -> list[dict]:
    """The partition's quarantine piece (quarantined rows, and dropped rows whose records
    were kept), as ledger entries."""
    kept = as_mask((part["_fate"] == QUARANTINED) | part["_record"].notna())
    rejects = part[~live & kept]
    if not len(rejects):
        return []
    table = quarantine_table(fr.to_pandas(rejects), sources)
    piece = write_table(table, f"{staging}/quarantine/p{number:06d}.parquet", sink)
    return [{"kind": "quarantine", **piece}]
