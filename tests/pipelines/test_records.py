"""Where CSV records begin and end (``records.split_records``), against pyarrow itself as
the oracle: on any bytes made of fields, delimiters, quotes and newlines whose quotes all
close, every record it finds is exactly one row to pyarrow (a quoted value holding
newlines included), and the whole data is as many rows as it finds non-blank records."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.csv as pacsv
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assay.pipelines.sources.records import UNBALANCED_QUOTE, split_records, too_long

CSVISH = st.lists(st.sampled_from([b"a", b"b", b",", b'"', b'""', b"\n", b"\r\n", b" "]),
                  max_size=60).map(b"".join)


def _rows(data: bytes) -> int:
    """Rows pyarrow reads from ``data`` (rows with the wrong field count included)."""
    invalid = []
    table = pacsv.read_csv(
        io.BytesIO(data + b"\n"),
        read_options=pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True,
                                         invalid_row_handler=lambda row: invalid.append(row)
                                         or "skip"),
        convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=False))
    return table.num_rows + len(invalid)


@settings(max_examples=400, deadline=None)
@given(data=CSVISH)
def test_every_record_is_one_pyarrow_row(data: bytes) -> None:
    records = split_records(np.frombuffer(data, dtype=np.uint8), ord('"'), ord(","),
                            1 << 20, final=True)
    assume(not records.bad)
    texts = [data[s:e] for s, e in zip(records.starts, records.ends, strict=True)]
    content = [t for t in texts if t not in (b"", b"\r")]
    for text in content:
        assert _rows(text) == 1, text
    if content:
        assert _rows(data) == len(content)


def test_quotes_as_pyarrow_reads_them() -> None:
    data = (b'1,"a\nb"\n'  # a quoted newline
            b'2,a"b\n'  # a quote inside an unquoted field is a character
            b'3,"a"b"\n'  # after a closing quote the field goes on unquoted
            b'4,"x""\n""y"\n'  # escaped quotes around a quoted newline
            b'5,"never closed\n6,z\n')
    records = split_records(np.frombuffer(data, dtype=np.uint8), ord('"'), ord(","), 1 << 20,
                            final=True)
    texts = [data[s:e] for s, e in zip(records.starts, records.ends, strict=True)]
    assert texts == [b'1,"a\nb"', b'2,a"b', b'3,"a"b"', b'4,"x""\n""y"', b"6,z"]
    assert [(data[b.start:b.end], b.reason) for b in records.bad] == [
        (b'5,"never closed', UNBALANCED_QUOTE)]


def test_a_quote_open_past_the_limit_is_unbalanced_and_a_long_line_too_long() -> None:
    data = b'1,"open\n' + b"x" * 50 + b"\n2,ok\n3," + b"y" * 50 + b"\n4,ok\n"
    records = split_records(np.frombuffer(data, dtype=np.uint8), ord('"'), ord(","), 32,
                            final=True)
    texts = [data[s:e] for s, e in zip(records.starts, records.ends, strict=True)]
    assert texts == [b"2,ok", b"4,ok"]
    assert [(data[b.start:b.end][:8], b.reason) for b in records.bad] == [
        (b'1,"open', UNBALANCED_QUOTE), (b"x" * 8, too_long(32)), (b"3,yyyyyy", too_long(32))]


@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(st.sampled_from([
    b"1,a,b\n", b'2,"x\ny",z\n', b'3,"q""\n""r",s\n', b'4,"open,1\n', b'5,a"b,c\n',
    b"6," + b"w" * 300 + b"\n", b'7,"' + b"v\n" * 200 + b'",t\n', b"\n", b'8,"a"b",c\n']),
    min_size=1, max_size=400), limit=st.sampled_from([64, 256, 1024]),
    window=st.sampled_from([16, 100, 1000]))
def test_the_records_do_not_depend_on_the_window(pieces: list[bytes], limit: int,
                                                  window: int) -> None:
    """Found a few bytes at a time (windows grow, bad spans restart the scan) or 64 KiB
    at a time, the records and bad spans are the same."""
    view = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    small = split_records(view, ord('"'), ord(","), limit, final=True, window=window)
    whole = split_records(view, ord('"'), ord(","), limit, final=True, window=1 << 30)
    assert small.starts.tolist() == whole.starts.tolist()
    assert small.ends.tolist() == whole.ends.tolist()
    assert small.bad == whole.bad
