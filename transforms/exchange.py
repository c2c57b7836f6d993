"""How a global step's shuffle moves rows: Dask's own shuffle, or files on a shared disk.

Dask's p2p shuffle does a piece of work for every (input, output) partition pair: it splits
each input, sends each piece to the worker of its output, buffers and writes it there, and
reads the pieces back. On a few cores out of core that per-pair work is most of a dedup's
time (``benchmarks/RESULTS.md``). When every worker shares one disk (a local cluster, or
a scheduler whose workers all run on this machine), the engine sets ``FOLDER`` in Dask's
config and the shuffle goes through files instead:

- each input sorts its rows by output partition once and writes them to one file of its
  own: a table of byte ranges, then one Arrow record batch per output (its schema goes
  to the barrier);
- once every input is written (one small barrier task), each output reads its byte range
  of every input's file and joins them into one chunk per column.

Rows go to the same output partitions as Dask's shuffle would send them (Dask's own
partitioning function), so shards are byte-identical whichever way a run shuffles. A file
is written under a temporary name and renamed, so an input Dask computes again (a lost
worker) rewrites the same bytes without a reader ever seeing half of them. The engine
removes the folder when the run ends. Partitions are pandas: the engine does not choose
files for cuDF's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import numpy as np
import pandas as pd
import pyarrow as pa

FOLDER = "assay.shuffle.folder"  # Dask config: the run's exchange folder (None: Dask's shuffle)
_RANGE = np.dtype("<i8")  # an input file's header: (start, length) of each output's batch
_RANGE_BYTES = 2 * _RANGE.itemsize  # one output's entry in it


class ShuffleStorageError(OSError):
    """The exchange's folder failed under a write or a read (out of space, removed): the
    engine reports it as a storage failure naming the folder (``filename``)."""


def shuffle(frame: Any, on: str, npartitions: int) -> Any:
    """``frame.shuffle(on=on, npartitions=npartitions)``, through files when the run's
    config names an exchange folder."""
    folder = dask.config.get(FOLDER, None)
    if folder is None:
        return frame.shuffle(on=on, npartitions=npartitions)
    import dask.dataframe as dd

    folder = os.path.join(folder, uuid.uuid4().hex)  # one per shuffle of the run
    written = frame.map_partitions(_write_input, on, npartitions, folder,
                                   meta=_written(0, 0).iloc[:0], enforce_metadata=False)
    barrier = written.repartition(npartitions=1)  # every input is on disk
    outputs = dd.from_map(_output_number, range(npartitions), meta=_output_number(0).iloc[:0],
                          enforce_metadata=False)
    return outputs.map_partitions(_read_output, barrier, folder, frame._meta,
                                  meta=frame._meta, enforce_metadata=False,
                                  align_dataframes=False)


def output_partitions(part: pd.DataFrame, on: str, npartitions: int) -> np.ndarray:
    """Each row's output partition, as Dask's hash shuffle on ``on`` assigns it."""
    from dask.dataframe.dask_expr._shuffle import AssignPartitioningIndex

    assigned = AssignPartitioningIndex.operation(part[[on]], on, "_partitions", npartitions,
                                                 part[[on]].iloc[:0], False)
    return assigned["_partitions"].to_numpy()


def _written(number: int, rows: int, schema: bytes = b"") -> pd.DataFrame:
    """What the barrier gathers of each input: its number, rows and Arrow schema."""
    return pd.DataFrame({"input": [number], "rows": [rows], "schema": [schema]})


def _output_number(number: int) -> pd.DataFrame:
    return pd.DataFrame({"output": [number]})


def _input_path(folder: str, number: int) -> str:
    return os.path.join(folder, f"input-{number:06d}.arrow")


def _write_input(part: pd.DataFrame, on: str, npartitions: int, folder: str,
                 partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    """Write ``part``'s rows to its input file, in output order; return what the barrier
    gathers of it."""
    number = (partition_info or {}).get("number", 0)
    targets = output_partitions(part, on, npartitions)
    counts = np.bincount(targets, minlength=npartitions)
    table = pa.Table.from_pandas(part, preserve_index=False)
    rows = table.take(pa.array(np.argsort(targets, kind="stable"))).combine_chunks()
    batches = rows.to_batches()  # one, its columns combined; none without rows
    ranges = np.zeros((npartitions, 2), dtype=_RANGE)
    path = _input_path(folder, number)
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    with _failing_as_storage(folder):
        os.makedirs(folder, exist_ok=True)
        with open(partial, "wb") as handle:
            handle.seek(ranges.nbytes)
            first = 0
            for output in np.flatnonzero(counts):
                piece = batches[0].slice(first, int(counts[output])).serialize()
                ranges[output] = handle.tell(), handle.write(piece)
                first += int(counts[output])
            handle.seek(0)
            handle.write(ranges.tobytes())
        os.replace(partial, path)
    return _written(number, len(part), rows.schema.serialize().to_pybytes())


def _read_output(_: pd.DataFrame, written: pd.DataFrame, folder: str, meta: pd.DataFrame,
                 partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    """This output's rows: its range of every input's file, in input order. Inputs share
    their schema but for a column's type where one had only nulls: each schema is parsed
    once, and types are unified only where they differ."""
    from dask.dataframe.dispatch import from_pyarrow_table_dispatch

    number = (partition_info or {}).get("number", 0)
    schemas: dict[bytes, pa.Schema] = {}
    batches = []
    inputs = written[written["rows"].to_numpy() > 0]
    for source, schema_bytes in zip(inputs["input"], inputs["schema"], strict=True):
        with _failing_as_storage(folder), open(_input_path(folder, int(source)), "rb") as file:
            start, length = np.frombuffer(
                os.pread(file.fileno(), _RANGE_BYTES, _RANGE_BYTES * number), dtype=_RANGE)
            piece = os.pread(file.fileno(), int(length), int(start)) if length else None
        if piece is not None:
            schema = schemas.get(schema_bytes)
            if schema is None:
                schema = schemas[schema_bytes] = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
            batches.append(pa.ipc.read_record_batch(pa.py_buffer(piece), schema))
    if not batches:
        return meta.iloc[:0].copy()
    table = pa.Table.from_batches(batches) if len(schemas) == 1 else pa.concat_tables(
        [pa.Table.from_batches([batch]) for batch in batches], promote_options="permissive")
    # one chunk per column: what Dask's sizeof of the result and every later kernel pay
    # per chunk was 13% of a worker's time at 10x with a chunk per input
    frame = from_pyarrow_table_dispatch(meta, table.combine_chunks(), self_destruct=True)
    strings = {name: dtype for name, dtype in meta.dtypes.items()
               if frame[name].dtype != dtype and isinstance(dtype, pd.StringDtype)}
    return frame.astype(strings) if strings else frame


@contextmanager
def _failing_as_storage(folder: str) -> Iterator[None]:
    """An OSError under the folder as a ShuffleStorageError naming it (what crosses from a
    worker to the engine: the errno, its text and the folder)."""
    try:
        yield
    except OSError as exc:
        raise ShuffleStorageError(exc.errno, exc.strerror, folder) from exc
