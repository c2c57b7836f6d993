"""Gates at dataset scope: what the published version's gates kept, and what must be reread.

Each run keeps, per gate, the gate's statistics over the dataset it publishes
(``_assay/runs/<run-id>/gates/<gate>.statistics.parquet``, beside the gate results; format
in ``assay.validation.kept``). An appending run finds the file of the version it appends to
through the Delta log: the newest commit an assay run made, provided no commit after it
changed the data (a vacuum or an optimize does not). The log entries are read directly
rather than through ``DeltaTable.history()``, whose numbering delta-rs 1.6 gets wrong for a
table opened at an older version. A statistic the file lacks (too large to keep, a new
expectation, a version written before statistics were kept) is reread from the published
version's files: only the columns it needs, one record batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable

from assay.pipelines import staging as staging_area
from assay.pipelines import table as delta
from assay.pipelines.plan import RunPlan
from assay.validation import kept as kept_file
from assay.validation.gate import GateEvaluator, Stats
from assay.validation.kept import Kept

KEPT_SUFFIX = ".statistics.parquet"
_NO_DATA_CHANGE = {"VACUUM START", "VACUUM END", "OPTIMIZE"}
_ENGINE_TYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(),
                 pa.bool_(): pd.BooleanDtype()}  # the nullable dtypes the engine's frames use
BATCH_ROWS = 1 << 20


@dataclass
class Published:
    """The version an appending run adds to, and the run whose kept statistics describe it
    (None: none do, so every dataset statistic is reread)."""

    table: DeltaTable
    run_id: str | None
    fs: fsspec.AbstractFileSystem
    root: str

    def kept(self, gate: str) -> Kept:
        path = f"{self.root}/{delta.RUNS}/{self.run_id}/gates/{gate}{KEPT_SUFFIX}"
        if self.run_id is not None and self.fs.exists(path):
            with self.fs.open(path, "rb") as handle:
                return kept_file.read(handle)
        return Kept(delta.rows_in(self.table), None)

    def frames(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        """The published rows' ``columns``, a record batch at a time, typed as the engine's
        partitions are (nullable integers and booleans)."""
        present = [c for c in columns if c in self.table.schema().to_arrow().names]
        dataset = self.table.to_pyarrow_dataset()
        for batch in dataset.to_batches(columns=present, batch_size=BATCH_ROWS):
            yield batch.to_pandas(types_mapper=_ENGINE_TYPES.get)


@dataclass
class DatasetStatistics:
    """A gate's statistics over the dataset after the run, and which were reread."""

    stats: Stats
    reread: list[str] = field(default_factory=list)


def published(plan: RunPlan, table: DeltaTable | None) -> Published | None:
    """The version an appending run adds to (``table``, opened by the run); None for an
    overwrite or a first version, whose rows are the whole dataset."""
    options = plan.spec.sink.storage_options
    if table is None:
        return None
    fs, root = staging_area.sink_fs(plan.sink_path, options)
    return Published(table, _describing_run(fs, root, table.version()), fs, root)


def _describing_run(fs: fsspec.AbstractFileSystem, root: str, version: int) -> str | None:
    """The run whose commit made ``version``'s data: the newest assay commit, looking back
    past commits that change no data; None where another writer changed it, or the log
    entry is gone (retention)."""
    for number in range(version, -1, -1):
        path = f"{root}/_delta_log/{number:020d}.json"
        if not fs.exists(path):
            return None
        info = delta.commit_info(fs.cat_file(path).decode())
        if info.get(delta.RUN_ID):
            return info[delta.RUN_ID]
        if info.get("operation") not in _NO_DATA_CHANGE:
            return None
    return None


def dataset_statistics(version: Published | None, evaluator: GateEvaluator, stats: Stats
                       ) -> DatasetStatistics:
    """The gate's statistics over the dataset after this run: the published version's kept
    ones, those it lacks reread, merged with the run's ``stats``."""
    if version is None:
        return DatasetStatistics(evaluator.dataset(stats, None))
    kept = version.kept(evaluator.gate_name)
    missing = evaluator.rereads(kept)
    if missing:
        columns = sorted({c for expectation in missing for c in expectation.columns})
        kept.statistics |= evaluator.reread(missing, version.frames(columns))
    reread = sorted({expectation.statistic for expectation in missing})
    return DatasetStatistics(evaluator.dataset(stats, kept), reread)


def keep(staging: str, gate: str, kept: Kept, storage_options: dict[str, Any]) -> None:
    """Write the gate's kept statistics beside its results in the run's staging folder
    (publishing moves them to ``_assay/runs/<run-id>/gates/``)."""
    fs, root = staging_area.sink_fs(staging, storage_options)
    fs.makedirs(f"{root}/validation", exist_ok=True)
    with fs.open(f"{root}/validation/{gate}{KEPT_SUFFIX}", "wb") as handle:
        kept_file.write(kept, handle)
