"""CSV blocks to routed partitions, parsed by pyarrow with every value read as a string
first, so a bad value or a line with the wrong field count costs one row, never the block."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.errors import UploadRejected
from pipelines.sources.lines import blank_lines, line_bounds, load_block, take_out_invalid_utf8
from pipelines.sources.partition import BadRecords, routed_partition
from pipelines.sources.scan import Block, InputFile
from pipelines.spec import CsvOptions, SchemaSpec
from transforms.frame import Frame


def parse_header(head: bytes, options: CsvOptions, url: str) -> list[str]:
    """Column names from the first line of a CSV upload."""
    first = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").rstrip(b"\r")
    try:
        table = pacsv.read_csv(
            io.BytesIO(first + b"\n"),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=options.delimiter,
                                             quote_char=options.quote_char),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False,
                                                 column_types={}),
        )
        names = [str(v) for v in table.to_pylist()[0].values()]
    except (pa.ArrowInvalid, IndexError) as exc:
        raise UploadRejected(f"{url}: line 1: cannot parse the CSV header: {exc}") from None
    names = [n.strip() for n in names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UploadRejected(f"{url}: line 1: duplicate column names {duplicates}")
    if any(not n for n in names):
        raise UploadRejected(f"{url}: line 1: a column has an empty name")
    return names


def read_csv_block(
    upload: InputFile,
    block: Block,
    schema: SchemaSpec,
    options: CsvOptions,
    meta: Frame,
    storage_options: dict[str, Any],
) -> Frame:
    data = load_block(upload, block, storage_options)
    first_line = block.first_line
    if block.start == 0 and options.header:
        newline = data.find(b"\n")
        data = b"" if newline < 0 else data[newline + 1:]
        first_line += 1
    names = upload.header or schema.names
    data, invalid = take_out_invalid_utf8(data)
    malformed = BadRecords.empty()

    def on_invalid_row(row: Any) -> str:
        malformed.add(first_line + row.number - 1, row.text,
                      f"malformed: expected {row.expected_columns} fields, "
                      f"found {row.actual_columns}")
        return "skip"

    keep = [n for n in names if n in schema.names or schema.extra_columns == "keep"]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=1 << 26),
            parse_options=pacsv.ParseOptions(delimiter=options.delimiter,
                                             quote_char=options.quote_char,
                                             ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=keep,
                null_values=options.null_values,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        ) if data else None
    except pa.ArrowInvalid as exc:
        raise UploadRejected(f"{upload.url}: cannot parse CSV near line {first_line}: {exc}"
                             ) from None
    starts, ends = line_bounds(data)
    every_line = first_line + np.arange(len(starts), dtype=np.int64)
    parsed = ~np.isin(every_line, malformed.lines)  # pyarrow made a row of each such line
    blank = blank_lines(data, starts, ends)[parsed]
    raw = table.to_pandas() if table is not None else empty_raw(keep)
    if len(raw) != int(parsed.sum()):
        raise UploadRejected(f"{upload.url}: from line {first_line}: rows do not match lines "
                             "(a quoted value spanning lines?)")
    raw = raw[~blank].reset_index(drop=True)
    for line in invalid:
        malformed.add(first_line + line.index, line.text, "invalid UTF-8")
    return routed_partition(raw, every_line[parsed][~blank], malformed, upload.source_id,
                            schema, meta, options)


def empty_raw(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="str") for name in columns})
