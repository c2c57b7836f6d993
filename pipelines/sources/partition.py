"""Assembling a reader's routed partition: the typed good rows plus every record of the
block that could not be used, each with its line number and reason."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.pipelines.routing import QUARANTINED, Mark, conform, rejected, route_out, with_routing
from assay.pipelines.schema import enforce_schema
from assay.pipelines.spec import CsvOptions, SchemaSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

READ_STAGE = "read"


@dataclass
class BadRecords:
    """Records the parser could not turn into a row: line numbers, raw text, reasons."""

    lines: list[int]
    texts: list[str]
    reasons: list[str]

    @classmethod
    def empty(cls) -> BadRecords:
        return cls([], [], [])

    def add(self, line: int, text: str, reason: str) -> None:
        self.lines.append(line)
        self.texts.append(text)
        self.reasons.append(reason)


def routed_partition(
    raw: Frame,
    lines: np.ndarray,
    bad: BadRecords,
    source_id: int,
    schema: SchemaSpec,
    meta: Frame,
    csv: CsvOptions | None = None,
) -> Frame:
    """Enforce the schema on ``raw`` (one row per entry of ``lines``) and return the routed
    partition: typed rows (those failing the schema marked quarantined), then ``bad``
    records, which have no data row."""
    raw = raw.reset_index(drop=True)
    lib = fr.library(meta)
    lineage = lib.DataFrame({"_source_id": np.full(len(raw), source_id, dtype="int32"),
                             "_source_line": lines.astype("int64")})
    enforced = enforce_schema(raw, schema, csv)
    out = with_routing(enforced.frame, lineage)
    failed = enforced.failed.to_numpy()
    if failed.any():
        out = route_out(out, [Mark(failed, QUARANTINED, READ_STAGE, enforced.reasons,
                                   fr.records_as_json(raw[failed]))])
    if bad.lines:
        bad_lineage = lib.DataFrame({"_source_id": np.full(len(bad.lines), source_id,
                                                           dtype="int32"),
                                     "_source_line": np.asarray(bad.lines, dtype="int64")})
        unparsed = rejected(bad_lineage, QUARANTINED, READ_STAGE,
                            lib.Series(bad.reasons, dtype="str"),
                            lib.Series(bad.texts, dtype="str"))
        out = lib.concat([out, conform(unparsed, meta)], ignore_index=True)
    return conform(out, meta)
