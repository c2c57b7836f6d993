"""JSON Lines blocks to routed partitions.

pyarrow parses a whole block at a time and fails it whole on one bad line, so a failing
range of lines is split in halves until each bad line stands alone: a block with k bad lines
costs about log2(lines) extra parses per bad line instead of a per-line Python parse.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from assay.pipelines.schema import type_reason
from assay.pipelines.sources.json_depth import TOO_DEEP, too_deep
from assay.pipelines.sources.lines import (
    blank_lines,
    blanked,
    leading_bom,
    line_bounds,
    load_block,
    take_out_invalid_utf8,
)
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.scan import BOM, Block, InputFile
from assay.pipelines.spec import ColumnSpec, SchemaSpec, SourceSpec
from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP
from assay.transforms.frame import Frame

_JSON_TYPES = {"int64": pa.int64(), "int32": pa.int64(), "float64": pa.float64(),
               "float32": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
               "timestamp": pa.string()}
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_ROW_SUFFIX = re.compile(r"^JSON parse error: | in row \d+$|(couldn't parse):.*$")


NOT_AN_OBJECT = "invalid record: the line is not a JSON object"
NOT_ONE_OBJECT = "invalid record: the line holds more than one JSON value"


def _parse_options(columns: list[ColumnSpec], extra_columns: str) -> pajson.ParseOptions:
    fields = [pa.field(c.name, _JSON_TYPES[c.type]) for c in columns]
    behaviour = {"drop": "ignore", "keep": "infer", "reject": "error"}[extra_columns]
    return pajson.ParseOptions(explicit_schema=pa.schema(fields),
                               unexpected_field_behavior=behaviour)


def _read(chunk: bytes, options: pajson.ParseOptions) -> pa.Table:
    return pajson.read_json(io.BytesIO(chunk),
                            read_options=pajson.ReadOptions(use_threads=False,
                                                            block_size=1 << 26),
                            parse_options=options)


def _message(exc: Exception) -> str:
    """pyarrow's message without the row number or the value, so reasons stay categories."""
    return _ROW_SUFFIX.sub(lambda m: m.group(1) or "", str(exc)).rstrip(": ")


def _reason(line: bytes, schema: SchemaSpec, error: Exception) -> str:
    """Why one line is not a record, in the spec's terms as the CSV reader gives them: not
    a JSON object, not JSON, or each declared field whose value is not of its type
    (``schema: id is not int64``), found by parsing the line for that field alone (its
    value alone where only Python's parser reads the line: a number beyond a double);
    pyarrow's own words only where none of these is the cause."""
    if not line.lstrip(b" \t\r").startswith(b"{"):
        return NOT_AN_OBJECT
    try:
        if _read(line, _parse_options([], "drop")).num_rows != 1:
            return NOT_ONE_OBJECT
        fields = dict.fromkeys(schema.names, line)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        value = _python_value(line)
        if not isinstance(value, dict):
            return f"invalid record: not valid JSON: {_message(exc)}"
        fields = {k: json.dumps({k: v}).encode() for k, v in value.items() if k in schema.names}
    wrong = []
    for column in schema.columns:
        try:
            if column.name in fields:
                _read(fields[column.name], _parse_options([column], "drop"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            wrong.append(type_reason(column))
    if wrong:
        return REASON_SEP.join(wrong)
    if schema.extra_columns == "reject":
        value = _python_value(line)
        undeclared = sorted(set(value) - set(schema.names)) if isinstance(value, dict) else []
        return f"invalid record: undeclared fields {undeclared} " \
               "(schema.extra_columns: reject)"
    return f"invalid record: {_message(error)}"


def _python_value(line: bytes) -> object:
    """The line as Python's JSON parser reads it, or None where it cannot."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


class _Parser:
    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray,
                 schema: SchemaSpec):
        self.data, self.starts, self.ends, self.schema = data, starts, ends, schema
        self.options = _parse_options(schema.columns, schema.extra_columns)
        self.tables: list[pa.Table] = []
        self.good: list[np.ndarray] = []
        self.bad: list[tuple[int, str]] = []

    def parse(self, lines: np.ndarray) -> None:
        """Parse the given (content) line indices, splitting ranges that fail."""
        chunk = self.data[self.starts[lines[0]]:self.ends[lines[-1]]]
        try:
            table = _read(chunk, self.options)
            if table.num_rows == len(lines):
                self.tables.append(table)
                self.good.append(lines)
                return
            error: Exception = ValueError(NOT_ONE_OBJECT)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            error = exc
        if len(lines) == 1:
            self.bad.append((int(lines[0]), _reason(chunk, self.schema, error)))
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
    bom = leading_bom(data, starts, ends)
    if bom.any():  # dropped, as pyarrow drops one at the start of what it parses
        data = blanked(data, starts[bom], starts[bom] + len(BOM))
    bad = BadRecords.empty()
    deep = too_deep(data, starts, ends) if schema.extra_columns == "keep" \
        else np.zeros(len(starts), dtype=bool)
    if deep.any():  # never parsed: blanked, their newlines kept
        for index in np.flatnonzero(deep):
            text = data[starts[index]:ends[index]].decode("utf-8", errors="backslashreplace")
            bad.add(block.first_line + int(index), text, TOO_DEEP)
        data = blanked(data, starts[deep], ends[deep])
    # a line of only a byte order mark holds nothing, as in CSV
    content = np.flatnonzero(~blank_lines(data, starts + len(BOM) * bom, ends) & ~deep)
    parser = _Parser(data, starts, ends, schema)
    if len(content):
        parser.parse(content)
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
