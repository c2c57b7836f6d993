"""CSV blocks to routed partitions, parsed by pyarrow with every value read as a string
first, so a bad value or a record with the wrong field count costs one row, never the block.

A record is found before it is parsed (``records``: a quoted value may hold newlines, so a
record may span lines, and a row names its first line); unbalanced quotes, blank records and
records that are not UTF-8 are taken out then. A record that pyarrow still cannot turn into
exactly one row (a lone carriage return outside quotes ends a row there) is found by parsing
the failing range of records in halves until it stands alone, as the JSON Lines reader does:
a block without such a record is parsed once, and each costs about log2(records) parses.
"""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.csv_shape import plain_lines
from assay.pipelines.sources.lines import (
    Buffer,
    blank_lines,
    compact,
    invalid_utf8,
    leading_bom,
    load_block,
    lone_carriage_returns,
    valid_utf8,
)
from assay.pipelines.sources.partition import BadRecords, routed_partition
from assay.pipelines.sources.records import NEWLINE, split_records
from assay.pipelines.sources.scan import BOM, Block, InputFile
from assay.pipelines.spec import CsvOptions, SchemaSpec, SourceSpec
from assay.transforms import frame as fr
from assay.transforms.frame import Frame

UNSPLITTABLE = "malformed: a lone carriage return splits the record"


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
        raise UploadRejected(f"{url}: line 1: cannot parse the CSV header: {exc}") from exc
    names = [n.strip() for n in names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UploadRejected(f"{url}: line 1: duplicate column names {duplicates}")
    if any(not n for n in names):
        raise UploadRejected(f"{url}: line 1: a column has an empty name")
    controlled = [n for n in names if any(unicodedata.category(ch) == "Cc" for ch in n)]
    if controlled:
        raise UploadRejected(f"{url}: line 1: column names with control characters "
                             f"{controlled}")
    return names


class _Parser:
    """Parses ranges of a block's records (all of them content: no blank or bad ones),
    splitting a range whose rows do not match its records; collects the tables, the
    records they hold and the records that are bad."""

    def __init__(self, data: Buffer, starts: np.ndarray, ends: np.ndarray, names: list[str],
                 keep: list[str], options: CsvOptions) -> None:
        self.data, self.starts, self.ends = memoryview(data), starts, ends
        self.names, self.keep, self.options = names, keep, options
        self.lone_cr = lone_carriage_returns(data, starts)
        self.tables: list[pa.Table] = []
        self.good: list[np.ndarray] = []
        self.bad = BadRecords.empty()  # record indices here, not line numbers

    def parse(self, lo: int, hi: int) -> None:
        """Parse records [lo, hi)."""
        if hi - lo > 1 and self.lone_cr[lo:hi].any():  # pyarrow may end a row there
            self._split(lo, hi)
            return
        malformed = BadRecords.empty()

        def on_invalid_row(row: Any) -> str:
            malformed.add(lo + row.number - 1, row.text, _wrong_field_count(row))
            return "skip"

        # ended by a newline: at the very end of its input pyarrow reads an empty last
        # field after a quoted one as quoted ("", not null); the block's own when it has
        # one there, so the range is not copied
        start, end = int(self.starts[lo]), int(self.ends[hi - 1])
        chunk = pa.py_buffer(self.data[start:end + 1] if end < len(self.data)
                             else bytes(self.data[start:end]) + b"\n")
        try:
            table = _parse(chunk, self.names, self.keep, self.options, on_invalid_row)
        except pa.ArrowInvalid:
            table = None
        records = np.arange(lo, hi)
        parsed = records[~np.isin(records, malformed.lines)]
        if table is not None and table.num_rows == len(parsed) \
                and all(lo <= record < hi for record in malformed.lines):
            self.tables.append(table)
            self.good.append(parsed)
            for record, text, reason in zip(malformed.lines, malformed.texts,
                                            malformed.reasons, strict=True):
                self.bad.add(record, text, reason)
            return
        self._split(lo, hi)

    def _split(self, lo: int, hi: int) -> None:
        """Parse the halves of [lo, hi), or take a single line as bad."""
        if hi - lo == 1:
            text = self.data[self.starts[lo]:self.ends[lo]]
            self.bad.add(lo, _text(text), UNSPLITTABLE)
            return
        middle = (lo + hi) // 2
        self.parse(lo, middle)
        self.parse(middle, hi)


def _parse(chunk: pa.Buffer, names: list[str], keep: list[str], options: CsvOptions,
           on_invalid_row: Any, skip_blank: bool = False) -> pa.Table:
    """Every field of ``chunk`` (ended by a newline) as a string, by pyarrow on this
    thread (a worker's threads are the parallelism); ``skip_blank``: no row for a blank
    line (else one of a single field)."""
    return pacsv.read_csv(
        pa.BufferReader(chunk),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                       block_size=max(1 << 26, len(chunk) + 1)),
        parse_options=pacsv.ParseOptions(delimiter=options.delimiter,
                                         quote_char=options.quote_char,
                                         ignore_empty_lines=skip_blank,
                                         newlines_in_values=True,
                                         invalid_row_handler=on_invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=keep,
            null_values=options.null_values,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _wrong_field_count(row: Any) -> str:
    return f"malformed: expected {row.expected_columns} fields, found {row.actual_columns}"


def read_csv_block(
    upload: InputFile,
    block: Block,
    schema: SchemaSpec,
    source: SourceSpec,
    meta: Frame,
) -> Frame:
    """The block as a routed partition of ``meta``'s library: on cuDF a plain block is
    parsed on the device (``csv_shape``), any other on the host and then copied over."""
    options = source.csv
    names = upload.header or schema.names
    keep = [n for n in names if n in schema.names or schema.extra_columns == "keep"]
    data = load_block(upload, block, source)
    first_line, skip = block.first_line, 0  # skip: the header's bytes
    if block.start == 0 and options.header:
        newline = data.find(b"\n")
        skip = len(data) if newline < 0 else newline + 1
        first_line += 1
    body = memoryview(data)[skip:]
    parsed = _on_device(body, names, keep, options, meta) \
        if fr.on_device(meta) and valid_utf8(body) else None
    if parsed is None:
        parsed = _on_host(data, names, keep, source, meta, skip, block.lines_are_records)
    raw, good, malformed = parsed
    malformed.lines = [first_line + line for line in malformed.lines]
    return routed_partition(raw, first_line + good, malformed, upload.source_id,
                            schema, meta, options)


def _on_device(data: Buffer, names: list[str], keep: list[str], options: CsvOptions,
               meta: Frame) -> tuple[Frame, np.ndarray, BadRecords] | None:
    """Raw rows and their line indices parsed by cuDF (``meta``'s library), or None when
    the block is not plain (``csv_shape``, checked on the block's device copy) or cuDF's
    rows do not match its lines, and it must be parsed on the host."""
    content = plain_lines(fr.bytes_array(data, meta), len(names), options.delimiter,
                          options.quote_char, options.null_values)
    if content is None or len(content) == 0:
        return None
    raw = _plain_fields(data, names, keep, options, meta)
    if len(raw) != len(content):
        return None
    for name in keep:
        raw[name] = raw[name].where(~raw[name].isin(options.null_values))
    return raw, fr.host_array(content), BadRecords.empty()


def _plain_fields(data: Buffer, names: list[str], keep: list[str], options: CsvOptions,
                  meta: Frame) -> Frame:
    """Every field of a plain block as a string, parsed by ``meta``'s library (cuDF's
    reader on the device: both libraries take these arguments), one row per non-blank
    line; empty fields are "" (cuDF reads them as null whatever it is told, so its nulls
    are turned back)."""
    frame = fr.library(meta).read_csv(
        io.BytesIO(data), compression=None, header=None, names=names, usecols=keep,
        dtype=dict.fromkeys(keep, "str"), delimiter=options.delimiter,
        quotechar=options.quote_char, doublequote=True, skipinitialspace=False,
        na_filter=False, keep_default_na=False, skip_blank_lines=True)
    return frame[keep].fillna("")


def _on_host(data: bytes, names: list[str], keep: list[str], source: SourceSpec,
             meta: Frame, skip: int = 0, lines_are_records: bool = False
             ) -> tuple[Frame, np.ndarray, BadRecords]:
    """Raw rows, the line index of each one's first line and the block's bad records of
    ``data[skip:]``, parsed by pyarrow: line by line where the plan found the block's
    records to be its lines and the bytes agree (``_lines_as_rows``), else record by
    record."""
    if fr.on_device(meta):
        fr.host_fallback("read_csv")
    parsed = _lines_as_rows(data, skip, names, keep, source) \
        if lines_are_records else None
    if parsed is None:
        parsed = _records_as_rows(memoryview(data)[skip:], names, keep, source)
    table, good, bad = parsed
    return fr.from_arrow(meta, table), good, bad


def _lines_as_rows(data: bytes, skip: int, names: list[str], keep: list[str],
                   source: SourceSpec) -> tuple[pa.Table, np.ndarray, BadRecords] | None:
    """``_records_as_rows`` of a block whose records are its lines, in one parse and a few
    byte scans instead of a record split; None where the bytes hold what a line-for-row
    reading gets wrong (a carriage return not ending a line, a byte order mark, bytes that
    are not UTF-8, a quote still open at the end) or pyarrow does not read one row per line
    (it skips blank lines here, and a quoted value across lines would join two), for the
    record split to answer."""
    options = source.csv
    body = memoryview(data)[skip:]
    view = np.frombuffer(body, dtype=np.uint8)
    last_line = view[max(data.rfind(b"\n", skip, len(data) - 1) + 1, skip) - skip:]
    if (len(body) == 0 or not valid_utf8(body)
            or (data.find(b"\r", skip) >= 0  # memchr first: the scans below are slower
                and data.count(b"\r", skip) != data.count(b"\r\n", skip))
            or (data.find(BOM[:1], skip) >= 0 and data.find(BOM, skip) >= 0)
            or split_records(last_line, ord(options.quote_char), ord(options.delimiter),
                             source.max_record_bytes, final=True).bad):
        return None
    ended = data.endswith(b"\n")
    lines = int(np.count_nonzero(view == NEWLINE)) + (not ended)
    malformed = BadRecords.empty()

    def on_invalid_row(row: Any) -> str:
        malformed.add(row.number - 1, row.text, _wrong_field_count(row))
        return "skip"

    chunk = pa.py_buffer(body if ended else bytes(body) + b"\n")  # see _Parser.parse
    try:
        table = _parse(chunk, names, keep, options, on_invalid_row, skip_blank=True)
    except pa.ArrowInvalid:
        return None
    if table.num_rows + len(malformed.lines) != lines:
        return None
    return table, np.delete(np.arange(lines), malformed.lines), malformed


def _records_as_rows(data: Buffer, names: list[str], keep: list[str], source: SourceSpec
                     ) -> tuple[pa.Table, np.ndarray, BadRecords]:
    """Raw rows, the line index of each one's first line and the block's bad records, the
    records found by ``split_records`` and parsed by pyarrow."""
    options = source.csv
    view = np.frombuffer(data, dtype=np.uint8)
    found = split_records(view, ord(options.quote_char), ord(options.delimiter),
                          source.max_record_bytes, final=True)
    newlines = found.newlines
    bad = BadRecords.empty()
    for span in found.bad:
        bad.add(int(np.searchsorted(newlines, span.start)),
                _text(data[span.start:span.end]),
                span.reason)
    starts, ends = found.starts, found.ends
    starts = starts + len(BOM) * leading_bom(data, starts, ends)
    invalid = invalid_utf8(data, starts, ends)
    for start, end in zip(starts[invalid].tolist(), ends[invalid].tolist(), strict=True):
        bad.add(int(np.searchsorted(newlines, start)),
                _text(data[start:end]), "invalid UTF-8")
    content = ~invalid & ~blank_lines(data, starts, ends)
    lines = np.searchsorted(newlines, starts[content])
    data, starts, ends = compact(data, starts[content], ends[content])
    parser = _Parser(data, starts, ends, names, keep, options)
    if len(starts):
        parser.parse(0, len(starts))
    for record, text, reason in zip(parser.bad.lines, parser.bad.texts, parser.bad.reasons,
                                    strict=True):
        bad.add(int(lines[record]), text, reason)
    if not parser.tables:
        return _empty_raw(keep), np.zeros(0, dtype=np.int64), bad
    good = lines[np.concatenate(parser.good)]
    return pa.concat_tables(parser.tables), good, bad


def _text(data: Buffer) -> str:
    """A record's bytes as text, invalid UTF-8 escaped, for the quarantine."""
    return str(data, "utf-8", "backslashreplace")


def _empty_raw(columns: list[str]) -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in columns})
