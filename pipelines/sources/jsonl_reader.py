"""JSON Lines blocks to routed partitions.

pyarrow parses a whole block at a time and fails it whole on one bad line, so a failing
range of lines is split in halves until each bad line stands alone: a block with k bad lines
costs about log2(lines) extra parses per bad line instead of a per-line Python parse.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from assay.pipelines.sources.lines import (
    blank_lines,
    line_bounds,
    load_block,
    take_out_invalid_utf8,
)
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.scan import Block, InputFile
from assay.pipelines.spec import SchemaSpec, SourceSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

_JSON_TYPES = {"int64": pa.int64(), "int32": pa.int64(), "float64": pa.float64(),
               "float32": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
               "timestamp": pa.string()}
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_ROW_SUFFIX = re.compile(r" in row \d+$|(couldn't parse):.*$")


def _parse_options(schema: SchemaSpec) -> pajson.ParseOptions:
    fields = [pa.field(c.name, _JSON_TYPES[c.type]) for c in schema.columns]
    behaviour = {"drop": "ignore", "keep": "infer", "reject": "error"}[schema.extra_columns]
    return pajson.ParseOptions(explicit_schema=pa.schema(fields),
                               unexpected_field_behavior=behaviour)


def _reason(exc: Exception) -> str:
    """pyarrow's message without the row number or the value, so reasons stay categories."""
    text = _ROW_SUFFIX.sub(lambda m: m.group(1) or "", str(exc)).rstrip(": ")
    return f"invalid record: {text}"


class _Parser:
    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray,
                 options: pajson.ParseOptions):
        self.data, self.starts, self.ends, self.options = data, starts, ends, options
        self.tables: list[pa.Table] = []
        self.good: list[np.ndarray] = []
        self.bad: list[tuple[int, str]] = []

    def parse(self, lines: np.ndarray) -> None:
        """Parse the given (content) line indices, splitting ranges that fail."""
        chunk = self.data[self.starts[lines[0]]:self.ends[lines[-1]]]
        try:
            table = pajson.read_json(io.BytesIO(chunk),
                                     read_options=pajson.ReadOptions(use_threads=False,
                                                                     block_size=1 << 26),
                                     parse_options=self.options)
            if table.num_rows == len(lines):
                self.tables.append(table)
                self.good.append(lines)
                return
            error: Exception = ValueError("a line holds more or less than one JSON object")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            error = exc
        if len(lines) == 1:
            self.bad.append((int(lines[0]), _reason(error)))
            return
        middle = len(lines) // 2
        self.parse(lines[:middle])
        self.parse(lines[middle:])


def read_jsonl_block(
    upload: InputFile,
    block: Block,
    schema: SchemaSpec,
    meta: Frame,
    source: SourceSpec,
) -> Frame:
    data, invalid = take_out_invalid_utf8(load_block(upload, block, source))
    starts, ends = line_bounds(data)
    content = np.flatnonzero(~blank_lines(data, starts, ends))
    parser = _Parser(data, starts, ends, _parse_options(schema))
    if len(content):
        parser.parse(content)
    bad = BadRecords.empty()
    for index, reason in parser.bad:
        text = data[starts[index]:ends[index]].decode("utf-8", errors="backslashreplace")
        bad.add(block.first_line + index, text, reason)
    for line in invalid:
        bad.add(block.first_line + line.index, line.text, "invalid UTF-8")
    if parser.tables:
        table = pa.concat_tables(parser.tables, promote_options="permissive")
        lines = block.first_line + np.concatenate(parser.good)
    else:
        table = pa.table({c.name: pa.array([], pa.string()) for c in schema.columns})
        lines = np.zeros(0, dtype=np.int64)
    raw = fr.from_arrow(meta, table, _NULLABLE.get)
    return routed_partition(raw, lines, bad, upload.source_id, schema, meta)
