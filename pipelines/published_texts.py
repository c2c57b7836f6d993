"""The published documents of a dataset-wide ``near_dedup``: the data files of the version
an appending run adds to, read by the workers (text column only) through fsspec.

No index is kept (unlike exact ``dedup``'s, ``dedup_index``): a near-duplicate is found by
MinHash over the text and confirmed on the text, so each run reads the published text
column and computes its signatures again (``docs/known-limits.md``). The files are read
as written, which is the version's rows only where no deletion vectors hide some: a table
with them is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from fsspec.core import url_to_fs

from assay.pipelines.errors import SpecError
from assay.pipelines.plan import RunPlan
from assay.transforms.near_dedup import NearDedup


@dataclass(frozen=True)
class PublishedFiles:
    """The data files of one version (``transforms.near_dedup.published.PublishedTexts``);
    ``read`` runs on the workers."""

    sink_path: str
    options: dict[str, Any]
    version: int
    files: tuple[str, ...]
    bytes: int
    columns: tuple[str, ...]

    def read(self, number: int, columns: list[str]) -> pa.Table:
        fs, root = url_to_fs(self.sink_path, **self.options)
        with fs.open(f"{root.rstrip('/')}/{self.files[number]}", "rb") as handle:
            return pq.read_table(handle, columns=columns)


def published(plan: RunPlan, table: DeltaTable | None) -> dict[str, PublishedFiles]:
    """By step label, the published files each dataset-wide near_dedup of an appending run
    compares with (``table``: the version it appends to; none for a first version or an
    overwrite, or an empty table); refuses, in one line naming the step, a table that
    lacks the step's text column or hides rows with deletion vectors."""
    steps = [s for s in plan.spec.steps if isinstance(s, NearDedup) and s.scope == "dataset"]
    options = plan.spec.sink.storage_options
    if table is None or not steps:
        return {}
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return {}
    _refuse_deletion_vectors(table, steps[0].label, plan.sink_path)
    schema = pa.schema(table.schema().to_arrow())
    actions = actions.sort_by("path")
    files = PublishedFiles(plan.sink_path, options, table.version(),
                           tuple(actions.column("path").to_pylist()),
                           int(pc.sum(actions.column("size_bytes")).as_py()),
                           tuple(schema.names))
    for step in steps:
        _check_text(schema, step, files.version, plan.sink_path)
    return {step.label: files for step in steps}


def _check_text(schema: pa.Schema, step: NearDedup, version: int, sink: str) -> None:
    where = f"steps {step.label!r} (scope: dataset): version {version} of {sink}"
    if step.column not in schema.names:
        raise SpecError(f"{where} has no column {step.column!r} to compare the run's "
                        "documents with (a later step drops or renames it?); set scope: run")
    kind = schema.field(step.column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)):
        raise SpecError(f"{where}: column {step.column!r} holds {kind}, not text; set "
                        "scope: run")


def _refuse_deletion_vectors(table: DeltaTable, label: str, sink: str) -> None:
    if "deletionVectors" in (table.protocol().reader_features or []):
        raise SpecError(f"steps {label!r} (scope: dataset): {sink} uses deletion vectors, "
                        "which this step cannot read past; rewrite the table without them "
                        "(or set scope: run)")
