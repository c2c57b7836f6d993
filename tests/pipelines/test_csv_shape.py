"""The device CSV gate (``csv_shape.plain_parse_is_exact``) is sound: whenever it lets a
block through, a plain parse (Python's ``csv`` module standing in for cuDF's reader, with
null markers applied afterwards as the device path does) gives exactly the host reader's
rows, values and nulls, and the host reader finds no bad line in it."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.pipelines.sources import csv_reader
from assay.pipelines.sources.csv_shape import plain_lines
from assay.pipelines.sources.lines import blank_lines, line_bounds
from assay.pipelines.spec import CsvOptions, SourceSpec
from tests.gpu.parity import PLAIN_UPLOADS, READER_UPLOADS

NAMES = ["id", "a", "b"]


def _gate(data: bytes, options: CsvOptions) -> bool:
    """Whether the gate lets the block through; when it does, the lines it gives are the
    host reader's non-blank lines."""
    lines = plain_lines(np.frombuffer(data, dtype=np.uint8), len(NAMES), options.delimiter,
                        options.quote_char, options.null_values)
    if lines is not None:
        starts, ends = line_bounds(data)
        assert lines.tolist() == np.flatnonzero(~blank_lines(data, starts, ends)).tolist()
    return lines is not None


def _host(data: bytes, options: CsvOptions) -> tuple[list[list], list[int], list[int]]:
    """Rows (None for null), their line indices and the bad lines, as the host reader
    (pandas partitions) gives them."""
    source = SourceSpec(paths=["upload.csv"], csv=options)
    raw, good, bad = csv_reader._on_host(data, NAMES, NAMES, source, pd.DataFrame())
    rows = [[None if pd.isna(v) else v for v in row] for row in raw[NAMES].itertuples(
        index=False)]
    return rows, [int(g) for g in good], bad.lines


def _plain(data: bytes, options: CsvOptions) -> tuple[list[list], list[int]]:
    """A plain parse of each non-blank line, then null markers set to null."""
    rows, lines = [], []
    for index, line in enumerate(data.decode().split("\n")):
        if line == "":
            continue
        fields = next(csv.reader([line], delimiter=options.delimiter,
                                 quotechar=options.quote_char, doublequote=True))
        rows.append([None if v in options.null_values else v for v in fields])
        lines.append(index)
    return rows, lines


def _field(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["plain"] * 4 + ["quoted"] * 3 + ["raw"]))
    text = draw(st.text(alphabet='ab ,"\r\n;NA', max_size=6))
    if kind == "plain":
        return text.replace(",", "").replace('"', "").replace("\n", "").replace("\r", "")
    if kind == "quoted":
        return '"' + text.replace("\n", "").replace("\r", "").replace('"', '""') + '"'
    return text.replace("\n", "")


@st.composite
def _blocks(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        width = draw(st.sampled_from([3] * 12 + [2, 4, 0]))
        lines.append(",".join(_field(draw) for _ in range(width)))
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode()


@settings(max_examples=600, deadline=None)
@given(_blocks(), st.sampled_from([[""], ["", "NA"], ["NA"], []]))
def test_a_block_the_gate_passes_parses_plainly_to_the_host_readers_rows(
        data: bytes, null_values: list[str]) -> None:
    options = CsvOptions(null_values=null_values)
    if not _gate(data, options):
        return
    rows, good, bad = _host(data, options)
    assert bad == []
    assert (rows, good) == _plain(data, options)


def _passes(text: str, null_values: list[str] | None = None) -> bool:
    return _gate(text.encode(), CsvOptions(null_values=null_values or [""]))


def test_plain_and_well_quoted_blocks_pass() -> None:
    assert _passes('1,x,y\n2,"a, b",""""\n\n3,"say ""hi""",\n')
    assert not _passes("")  # nothing to parse: the host reader says so


def test_blocks_a_plain_parse_would_get_wrong_do_not_pass() -> None:
    assert not _passes("1,2\n")  # too few fields
    assert not _passes("1,2,3,4\n")  # too many
    assert not _passes('1,"open,3\n')  # unbalanced quote
    assert not _passes('1,a"b",3\n')  # a quote inside a field
    assert not _passes('1,"a"b,3\n')  # text after a closing quote
    assert not _passes("1,2,3\r\n")  # carriage returns
    assert not _passes('1,"",3\n')  # quoted "" equals the null marker: not null on the host
    assert not _passes('1,"NA",3\n', ["NA"])
    assert _passes('1,"",3\n', ["NA"])  # not a marker here: the empty string either way
    assert not _passes("1,\x00,3\n")


def test_the_device_path_counts_one_row_per_non_blank_line() -> None:
    data = b'1,x,y\n\n2,"q",\n'
    starts, ends = line_bounds(data)
    assert np.flatnonzero(~blank_lines(data, starts, ends)).tolist() == [0, 2]
    assert _plain(data, CsvOptions())[0] == [["1", "x", "y"], ["2", "q", None]]


def test_an_empty_last_field_is_null_at_the_end_of_a_block_too() -> None:
    # pyarrow reads an empty field at the very end of its input, after a quoted field, as
    # quoted (""); the host reader ends every range it parses with a newline
    rows, _, _ = _host(b'1,"x",\n3,"x",', CsvOptions())
    assert rows == [["1", "x", None], ["3", "x", None]]


@pytest.mark.parametrize("name", sorted(READER_UPLOADS))
def test_the_device_path_gives_the_host_rows_or_leaves_the_block_to_the_host(
        name: str) -> None:
    """With a pandas meta the device path parses with pandas' C parser, standing in for
    cuDF's (both take the same arguments)."""
    data = READER_UPLOADS[name].encode().split(b"\n", 1)[1]
    options = CsvOptions(null_values=["", "NA"])
    device = csv_reader._on_device(data, NAMES, NAMES, options, pd.DataFrame())
    plain = name in PLAIN_UPLOADS
    assert (device is not None) == plain
    if plain:
        raw, good, _ = csv_reader._on_host(data, NAMES, NAMES,
                                           SourceSpec(paths=["upload.csv"], csv=options),
                                           pd.DataFrame())
        pd.testing.assert_frame_equal(device[0].reset_index(drop=True).astype(object),
                                      raw.astype(object))
        assert device[1].tolist() == good.tolist()
