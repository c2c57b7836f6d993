"""Readers: every malformed record is quarantined with its file, line and reason; the
rest of the upload goes on."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import itertools
import lzma

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from assay.pipelines.errors import UploadRejected
from assay.pipelines.sources.scan import sha256_of
from tests.pipelines.conftest import BASIC_SCHEMA, read_quarantine
from tests.published import rows_of

DIRTY_CSV = (
    b"id,name,amount\n"  # line 1
    b"1,Ann,2.5\n"  # 2 ok
    b"2,Bob\n"  # 3 too few fields
    b"\n"  # 4 blank: not a record
    b"3,Cy,abc\n"  # 5 amount not a float
    b"4,Di,1e3\n"  # 6 ok
    b"5,\xff\xfe,1\n"  # 7 invalid UTF-8
    b",Eve,2\n"  # 8 id null but not nullable
    b"6,Fay,1,extra\n"  # 9 too many fields
    b'7,"Gil, Jr.",3\n'  # 10 ok, quoted delimiter
)
BAD_CSV_LINES = {
    3: "malformed: expected 3 fields, found 2",
    5: "schema: amount is not float64",
    7: "invalid UTF-8",
    8: "schema: id is null but not nullable",
    9: "malformed: expected 3 fields, found 4",
}


@pytest.mark.parametrize("block_size", [16, 1 << 20])
def test_csv_bad_records_quarantined_with_line_numbers(make_spec, uploads, run, block_size):
    uploads("events.csv", DIRTY_CSV)
    version = run(make_spec(source={"paths": ["uploads"], "block_size": block_size}))
    quarantined = {r["_source_line"]: r for r in read_quarantine(version)}
    assert {line: r["_reasons"] for line, r in quarantined.items()} == {
        line: [reason] for line, reason in BAD_CSV_LINES.items()
    }
    assert all(r["_source_file"].endswith("events.csv") for r in quarantined.values())
    assert quarantined[3]["_record"] == "2,Bob"
    assert '"amount":"abc"' in quarantined[5]["_record"]
    table = rows_of(version.path) if block_size > 16 else None
    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == 8  # every line but the header and the blank one
    assert accounting["rows_written"] == 3
    assert accounting["rows_quarantined"] == 5
    if table is not None:
        assert table.column("id").to_pylist() == [1, 4, 7]
        assert table.column("name").to_pylist() == ["Ann", "Di", "Gil, Jr."]


def test_compressed_uploads(make_spec, uploads, run):
    written = [uploads("a.csv.gz", gzip.compress(b"id,name,amount\n1,a,1\n2,b,2\n")),
               uploads("b.csv.zst", zstandard.ZstdCompressor().compress(
                   b"id,name,amount\n3,c,3\n")),
               uploads("c.csv.bz2", bz2.compress(b"id,name,amount\n4,d,4\n")),
               uploads("d.csv.xz", lzma.compress(b"id,name,amount\n5,e,5\n"))]
    version = run(make_spec(source={"paths": ["uploads"], "block_size": 16}))
    assert version.manifest["rows"] == 5
    inputs = {i["path"].rsplit("/", 1)[-1]: i for i in version.manifest["inputs"]}
    assert {name: i["compression"] for name, i in inputs.items()} == {
        "a.csv.gz": "gzip", "b.csv.zst": "zstd", "c.csv.bz2": "bz2", "d.csv.xz": "xz"}
    for path in written:  # the hash is of the file as stored, read while decompressing
        assert inputs[path.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_jsonl_invalid_lines_quarantined(make_spec, uploads, run):
    uploads("r.jsonl", b'{"id": 1, "name": "a", "amount": 1}\n'
                       b"{not json\n"
                       b"\n"
                       b'{"id": "2", "name": "b"}\n'
                       b'{"id": 3, "name": "c", "amount": 2.5, "other": true}\n'
                       b"[1, 2]\n")
    version = run(make_spec())
    reasons = {r["_source_line"]: r["_reasons"] for r in read_quarantine(version)}
    assert sorted(reasons) == [2, 4, 6]
    assert reasons[2] == ["invalid record: not valid JSON: Missing a name for object member."]
    assert reasons[4] == ["schema: id is not int64"]  # as the CSV reader says it
    assert reasons[6] == ["invalid record: the line is not a JSON object"]
    assert version.manifest["rows"] == 2


@pytest.mark.parametrize("name", ["joined.jsonl", "joined.csv"])
def test_a_line_of_only_a_byte_order_mark_holds_no_record(make_spec, uploads, run, name):
    """Files joined end to end, one of them empty but for its byte order mark: that line
    is no record in JSON Lines as in CSV (the fuzz found it quarantined as not a JSON
    object)."""
    rows = (b"id,name,amount\n1,a,1\n\xef\xbb\xbf\n2,b,2\n" if name.endswith(".csv") else
            b'{"id": 1, "name": "a"}\n\xef\xbb\xbf\n{"id": 2, "name": "b"}\n')
    uploads(name, rows)
    version = run(make_spec())
    assert read_quarantine(version) == []
    assert version.manifest["accounting"]["rows_read"] == 2


def test_jsonl_reasons_name_each_field_and_its_type(make_spec, uploads, run):
    uploads("r.jsonl", b'{"id": 1.5, "name": "a", "amount": "x"}\n'
                       b'{"id": 1e400, "name": "b"}\n'
                       b'{"id": 2, "name": [[1]]}\n'
                       b'{"id": 3}{"id": 4}\n'
                       b'{"id": 5, "name": "e", "other": 1}\n')
    schema = {**BASIC_SCHEMA, "extra_columns": "reject"}
    version = run(make_spec(schema=schema))
    reasons = {r["_source_line"]: r["_reasons"] for r in read_quarantine(version)}
    assert reasons == {
        1: ["schema: id is not int64", "schema: amount is not float64"],
        2: ["schema: id is not int64"],
        3: ["schema: name is not string"],
        4: ["invalid record: the line holds more than one JSON value"],
        5: ["invalid record: undeclared fields ['other'] (schema.extra_columns: reject)"],
    }


def test_parquet_upload_and_extra_columns_kept(make_spec, uploads, tmp_path, run):
    path = tmp_path / "uploads" / "p.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": [1, None, 3], "name": ["a", "b", "c"],
                             "amount": [1.0, 2.0, None], "note": ["x", "y", "z"]}), path)
    schema = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                          {"name": "name"}, {"name": "amount", "type": "float64"}],
              "extra_columns": "keep"}
    version = run(make_spec(schema=schema))
    table = rows_of(version.path)
    assert table.column_names == ["id", "name", "amount", "note"]
    assert table.column("id").to_pylist() == [1, 3]
    assert [r["_source_line"] for r in read_quarantine(version)] == [2]


def test_bom_and_crlf(make_spec, uploads, run):
    uploads("w.csv", b"\xef\xbb\xbfid,name,amount\r\n1,a,1\r\n\r\n2,b,2\r\n")
    version = run(make_spec())
    assert version.manifest["accounting"]["rows_read"] == 2
    table = rows_of(version.path)
    assert table.column("name").to_pylist() == ["a", "b"]


MULTILINE_CSV = (
    b"id,name,amount\n"  # line 1
    b'1,"two\nlines",1\n'  # 2-3: one value holding a newline
    b'2,"a ""quoted"", comma\r\nand CRLF",2\n'  # 4-5
    b"3,plain,3\n"  # 6
    b'4,"three\n\nlines, one blank",4\n'  # 7-9
    b'5,"never closed,5\n'  # 10: an unbalanced quote
    b"6,after,6\n"  # 11
)


@pytest.mark.parametrize("compress", [bytes, gzip.compress], ids=["plain", "gzip"])
@pytest.mark.parametrize("block_size", [16, 40, 1 << 20])
def test_quoted_values_span_lines(make_spec, uploads, run, block_size, compress):
    """RFC 4180: a quoted value may hold newlines; its row is numbered by its first line,
    blocks start at records, and an unbalanced quote costs only its own line."""
    uploads("multi.csv" + (".gz" if compress is gzip.compress else ""),
            compress(MULTILINE_CSV))
    version = run(make_spec(source={"paths": ["uploads"], "block_size": block_size}))
    table = rows_of(version.path)
    assert dict(zip(table.column("id").to_pylist(), table.column("name").to_pylist(),
                    strict=True)) == {1: "two\nlines", 2: 'a "quoted", comma\r\nand CRLF',
                                      3: "plain", 4: "three\n\nlines, one blank", 6: "after"}
    quarantined = read_quarantine(version)
    assert [(r["_source_line"], r["_reasons"], r["_record"]) for r in quarantined] == [
        (10, ["malformed: unbalanced quote (a quoted value that never closes)"],
         '5,"never closed,5')]
    assert version.manifest["accounting"]["rows_read"] == 6


def test_compressed_upload_is_read_in_blocks(make_spec, uploads, tmp_path):
    """A compressed upload is cut into blocks at records as it is planned, so a worker
    holds a block, not the whole expanded file."""
    from assay.pipelines.plan import plan_run

    header, body = MULTILINE_CSV.split(b"\n", 1)
    data = header + b"\n" + body.split(b'5,"never')[0] * 50
    uploads("multi.csv.zst", zstandard.ZstdCompressor().compress(data))
    plan = plan_run(make_spec(source={"paths": ["uploads"], "block_size": 256}))
    (upload,) = plan.inputs
    assert len(upload.blocks) > 10
    for block in upload.blocks[1:]:  # each starts a record: "<id>," after a newline
        assert data[block.start - 1:block.start + 2] in {b"\n1,", b"\n2,", b"\n3,", b"\n4,"}
        assert data[:block.start].count(b"\n") + 1 == block.first_line


def _plain_lines(first: int, last: int) -> bytes:
    return b"".join(b"%d,n%d,%d\n" % (i, i, i) for i in range(first, last + 1))


def test_the_plan_marks_the_blocks_whose_records_are_lines(make_spec, uploads):
    """The planning scan marks each block whose records are all one line, so its reader
    parses lines as rows without splitting records again; a block holding a quoted value
    across lines or an unbalanced quote is not marked."""
    from assay.pipelines.plan import plan_run

    uploads("mixed.csv", b"id,name,amount\n" + _plain_lines(2, 9) + b'10,"two\nlines",10\n'
            + _plain_lines(12, 19) + b'20,"never closed,20\n' + _plain_lines(21, 28))
    plan = plan_run(make_spec(source={"paths": ["uploads"], "block_size": 40}))
    (upload,) = plan.inputs
    following = [block.first_line for block in upload.blocks[1:]] + [29]
    marked = {(block.first_line, after - 1): block.lines_are_records
              for block, after in zip(upload.blocks, following, strict=True)}
    assert marked == {(first, last): not (first <= 10 <= last or first <= 20 <= last)
                      for first, last in marked}
    assert sum(marked.values()) > 2 and not all(marked.values())


@pytest.mark.parametrize("name", ["mixed.csv", "mixed.csv.gz", "mixed.jsonl"])
def test_a_file_hashed_aside_plans_as_in_one_pass(make_spec, uploads, monkeypatch, name):
    """With fewer files than threads, a local text file is hashed in a read of its own
    while its cut runs, so a single upload takes both cores: its sha256 (of the bytes as
    stored) and its blocks are those of the one pass that hashes as it cuts."""
    from assay.pipelines import plan as planning

    if name.endswith(".jsonl"):
        body = b"".join(b'{"id": %d, "name": "n%d", "amount": %d}\n' % (i, i, i)
                        for i in range(60))
    else:
        body = (b"id,name,amount\n" + _plain_lines(2, 30) + b'31,"two\nlines",31\n'
                + _plain_lines(33, 60))
    stored = gzip.compress(body, mtime=0) if name.endswith(".gz") else body
    uploads(name, stored)
    spec = make_spec(source={"paths": ["uploads"], "block_size": 64})
    monkeypatch.setattr(planning.os, "cpu_count", lambda: 2)  # one file, two threads
    hashed_aside = []
    monkeypatch.setattr(planning, "sha256_of", lambda *args: hashed_aside.append(args)
                        or sha256_of(*args))
    (aside,) = planning.plan_run(spec).inputs
    assert len(hashed_aside) == 1
    monkeypatch.setattr(planning, "_hash_aside", lambda item: False)
    (one_pass,) = planning.plan_run(spec).inputs
    assert len(hashed_aside) == 1
    assert aside.sha256 == one_pass.sha256 == hashlib.sha256(stored).hexdigest()
    assert aside.blocks == one_pass.blocks and len(aside.blocks) > 5


@pytest.mark.parametrize(("body", "one_row_a_line"), [
    (b"1,a,1\r\n2,b\r\n3,c,3", True),  # CRLF, a malformed row, no final newline
    (b"1,a,1\n\n3,c,3\n", False),  # a blank line
    (b"1,a,1\n2,b\r,2\n", False),  # a lone carriage return
    (b"1,a,1\n\xef\xbb\xbf2,b,2\n", False),  # a byte order mark
    (b'1,a,1\n2,"b\nc",2\n', False),  # a quoted value across lines
    (b'1,a,1\n2,"b,2\n', False),  # a quote open at the end
    (b"1,\xff,1\n", False),  # not UTF-8
])
def test_lines_are_read_as_rows_only_where_each_is_one(body, one_row_a_line):
    """The reader's line-for-row parse of a marked block gives what the record split
    gives, and declines whatever it would read otherwise."""
    from assay.pipelines.sources.csv_reader import _lines_as_rows, _records_as_rows
    from assay.pipelines.spec import SourceSpec

    source, names = SourceSpec(paths=["x.csv"]), ["id", "name", "amount"]
    fast = _lines_as_rows(body, 0, names, names, source)
    assert (fast is not None) == one_row_a_line
    if fast is not None:
        table, good, bad = _records_as_rows(body, names, names, source)
        assert fast[0].equals(table) and fast[1].tolist() == good.tolist() == [0, 2]
        assert fast[2] == bad and bad.lines == [1]


def test_over_long_record_quarantined_unread(make_spec, uploads, run):
    """A record longer than source.max_record_bytes is quarantined without being read
    (its start shown), whatever its quotes; the records after it keep their lines."""
    long_value = b"x" * 5000
    uploads("long.csv", b"id,name,amount\n1,a,1\n2," + long_value + b",2\n"
                        b'3,"' + long_value + b'",3\n4,d,4\n')
    version = run(make_spec(source={"paths": ["uploads"], "block_size": 64,
                                    "max_record_bytes": 1024}))
    assert rows_of(version.path).column("id").to_pylist() == [1, 4]
    quarantined = {r["_source_line"]: r for r in read_quarantine(version)}
    assert sorted(quarantined) == [3, 4]
    for row in quarantined.values():
        assert row["_reasons"] == ["malformed: a record longer than 1,024 bytes "
                                   "(source.max_record_bytes)"]
        assert len(row["_record"]) == 1024 + len("...")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_a_header_longer_than_the_record_limit_rejects_the_upload(make_spec, uploads, run,
                                                                  bom):
    """The header is no record to quarantine: an upload whose header passes
    source.max_record_bytes is rejected in one line naming the file (the fuzz found it
    quarantined as a row of line 1, and again after a byte order mark)."""
    path = uploads("wide.csv", bom + b"id,name,amount," + b"x" * 100 + b"\n1,a,1\n")
    with pytest.raises(UploadRejected) as raised:
        run(make_spec(source={"paths": ["uploads"], "max_record_bytes": 64}))
    assert str(raised.value) == (f"{path}: line 1, the header, is longer than "
                                 "source.max_record_bytes (64 bytes)")


# What the scripts below share: run in a fresh interpreter, they measure its own peak RSS
# (``ru_maxrss`` would start at the pytest process's, which a child inherits)
_PEAK_HEAD = """
import sys
from pathlib import Path
from assay.pipelines.plan import plan_run
from assay.pipelines.routing import empty_routed
from assay.pipelines.sources.read import _read_block, data_meta
from assay.pipelines.spec import parse_spec

def peak_mib():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024

root = Path(sys.argv[1])
"""

_READ_PEAK = _PEAK_HEAD + """
spec = parse_spec({"name": "m", "source": {"paths": ["uploads"], "block_size": "2MiB"},
                   "schema": {"columns": [{"name": "id", "type": "int64"}, {"name": "name"},
                                          {"name": "amount", "type": "float64"}]},
                   "sink": {"path": "out"}}, str(root / "pipeline.yaml"), root)
plan = plan_run(spec)
meta = empty_routed(data_meta(spec, plan))
before = peak_mib()
rows = sum(len(_read_block(item, spec, meta)) for item in
           [(upload, block) for upload in plan.inputs for block in upload.blocks])
print(rows, peak_mib() - before)
"""


class _Counted:
    """A stored file that counts the bytes read from it (``read``)."""

    def __init__(self, raw, counts: list[int]):
        self.raw, self.counts = raw, counts

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.counts.append(len(data))
        return data

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


@pytest.mark.parametrize(("reading", "streams"), [("in order", 1), ("block 1 first", 2),
                                                 ("two threads", 2)])
def test_a_compressed_upload_is_decompressed_about_once_per_stream(
        make_spec, uploads, monkeypatch, reading, streams):
    """Each block of a gzip upload continues the stream an earlier block was read with:
    reading its 30 blocks reads the stored file about once per stream (a block read before
    the one ahead of it starts a second), where decompressing from the start for each block
    read it about 15 times; the rows are the same, and reading the end closes the streams."""
    from concurrent.futures import ThreadPoolExecutor

    import psutil
    from fsspec.compression import compr

    from assay.pipelines.plan import plan_run
    from assay.pipelines.routing import empty_routed
    from assay.pipelines.sources.read import _read_block, data_meta

    rng = np.random.default_rng(5)
    rows = [b"%d,n%d,%.6f\n" % (i, rng.integers(1 << 40), rng.random()) for i in range(100_000)]
    path = uploads("big.csv.gz", gzip.compress(b"id,name,amount\n" + b"".join(rows)))
    spec = make_spec(source={"paths": ["uploads"], "block_size": 96 * 1024})
    plan = plan_run(spec)
    (upload,) = plan.inputs
    assert len(upload.blocks) == 30
    counts: list[int] = []
    codec = compr["gzip"]
    monkeypatch.setitem(compr, "gzip", lambda raw, mode: codec(_Counted(raw, counts), mode=mode))
    meta = empty_routed(data_meta(spec, plan))
    order = list(range(len(upload.blocks)))
    if reading == "block 1 first":
        order[:2] = [1, 0]
    with ThreadPoolExecutor(2 if reading == "two threads" else 1) as pool:
        parts = dict(zip(order, pool.map(
            lambda index: _read_block((upload, upload.blocks[index]), spec, meta), order),
            strict=True))
    assert sum(counts) < (streams + 0.5) * path.stat().st_size
    lines = np.concatenate([parts[index]["_source_line"].to_numpy() for index in sorted(parts)])
    assert lines.tolist() == list(range(2, len(rows) + 2))
    if reading != "two threads":  # where the end is read last
        assert str(path) not in [f.path for f in psutil.Process().open_files()]


def test_memory_of_a_compressed_upload_is_bounded_by_the_block_size(uploads, tmp_path):
    """A 2 MiB zstd upload that expands to 96 MiB is read in blocks of 2 MiB: reading it
    grows the process by a few blocks, not by a multiple of the expanded size (it grew by
    616 MiB when a compressed upload was one block)."""
    import subprocess
    import sys

    line = b"12345,some name here,1.5\n"
    count = 96 * 1024 * 1024 // len(line)
    uploads("big.csv.zst", zstandard.ZstdCompressor(level=1).compress(
        b"id,name,amount\n" + line * count))
    done = subprocess.run([sys.executable, "-c", _READ_PEAK, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=True)
    rows, grown_mib = map(int, done.stdout.split())
    assert rows == count
    assert grown_mib < 100, f"reading grew the process by {grown_mib} MiB"


def test_a_large_parquet_row_group_is_read_in_slices(make_spec, tmp_path, run):
    """A row group over the block size is read as slices of it (a worker holds a slice,
    not the group), with the same rows and record numbers as when it is read whole."""
    from assay.pipelines.plan import plan_run

    count = 200_000
    ids = pa.array(range(count), pa.int64())
    names = pa.array([f"name {i}" for i in range(count)])
    amounts = pa.array([None if i == 150_001 else i / 4 for i in range(count)])
    path = tmp_path / "uploads" / "one_group.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ids, "name": names, "amount": amounts}), path,
                   row_group_size=count)
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "name"},
                          {"name": "amount", "type": "float64", "nullable": False}]}
    sliced = make_spec(schema=schema, source={"paths": ["uploads"], "block_size": "256KiB"})
    (upload,) = plan_run(sliced).inputs
    assert len(upload.blocks) > 4
    whole = make_spec(schema=schema, sink={"path": "whole"})
    versions = [run(sliced), run(whole)]
    for version in versions:
        assert rows_of(version.path).column("id").to_pylist() == \
            [i for i in range(count) if i != 150_001]
        assert [r["_source_line"] for r in read_quarantine(version)] == [150_002]


def test_small_row_groups_are_read_together_and_big_ones_in_slices(make_spec, tmp_path, run):
    """Dataset writers cut files into groups of a few MiB: consecutive whole groups make
    one block up to the block size (not a tiny partition each), a group over it is sliced,
    and every row keeps its record number."""
    from assay.pipelines.plan import plan_run
    from assay.pipelines.sources.parquet_reader import parquet_blocks

    sizes = [1_000] * 30 + [60_000] + [1_000] * 5  # 30 small groups, one big, 5 small
    count = sum(sizes)
    ids = pa.array(range(count), pa.int64())
    texts = pa.array([f"text {i:08d}" for i in range(count)])
    amounts = pa.array([None if i == 30_500 else i / 4 for i in range(count)])
    path = tmp_path / "uploads" / "groups.parquet"
    path.parent.mkdir()
    with pq.ParquetWriter(path, pa.schema([("id", pa.int64()), ("name", pa.string()),
                                           ("amount", pa.float64())])) as writer:
        at = 0
        for size in sizes:
            writer.write_table(pa.table({"id": ids[at:at + size], "name": texts[at:at + size],
                                         "amount": amounts[at:at + size]}))
            at += size
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == len(sizes)
    small = metadata.row_group(0).total_byte_size
    blocks, _, decoded = parquet_blocks(str(path), {}, 10 * small)
    assert decoded == sum(metadata.row_group(g).total_byte_size for g in range(len(sizes)))
    spans = [(b.start, b.end, b.first_line) for b in blocks]
    assert spans[:3] == [(0, 10_000, 1), (10_000, 20_000, 10_001), (20_000, 30_000, 20_001)]
    big = [s for s in spans if 30_000 <= s[0] < 90_000]
    assert len(big) > 2 and big[0][0] == 30_000 and big[-1][1] == 90_000  # slices
    assert spans[-1] == (90_000, 95_000, 90_001)  # the last small groups together
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # every row once
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "name"},
                          {"name": "amount", "type": "float64", "nullable": False}]}
    spec = make_spec(schema=schema, source={"paths": ["uploads"],
                                            "block_size": str(10 * small)})
    (upload,) = plan_run(spec).inputs
    assert [(b.start, b.end) for b in upload.blocks] == [s[:2] for s in spans]
    version = run(spec)
    assert rows_of(version.path).column("id").to_pylist() == \
        [i for i in range(count) if i != 30_500]
    assert [r["_source_line"] for r in read_quarantine(version)] == [30_501]


_SLICE_PEAK = _PEAK_HEAD + """
spec = parse_spec({"name": "m", "source": {"paths": ["uploads"], "block_size": "8MiB"},
                   "schema": {"columns": [{"name": "id", "type": "int64"}, {"name": "text"}]},
                   "sink": {"path": "out"}}, str(root / "pipeline.yaml"), root)
plan = plan_run(spec)
(upload,) = plan.inputs
meta = empty_routed(data_meta(spec, plan))
before = peak_mib()
part = _read_block((upload, upload.blocks[-1]), spec, meta)
print(len(upload.blocks), len(part), int(part["id"].iloc[0]), peak_mib() - before)
"""


def test_a_slice_of_a_row_group_of_long_texts_decodes_about_its_own_bytes(tmp_path):
    """Decoding a slice of a row group reads its column chunks a little at a time and
    decodes batches of about ``_BATCH_BYTES``, not 64k rows: 4,000 documents of 20 KB were
    one batch of the whole 80 MB group, read ahead whole and decoded to keep a tenth of it
    (a text corpus's worker peak, ``benchmarks/RESULTS.md``; this grew by 241-264 MiB)."""
    import subprocess
    import sys

    count, size = 4_000, 20_000
    path = tmp_path / "uploads" / "texts.parquet"
    path.parent.mkdir()
    texts = pa.array([f"{i:05d}" + "x" * (size - 5) for i in range(count)])
    pq.write_table(pa.table({"id": pa.array(range(count), pa.int64()), "text": texts}), path,
                   row_group_size=count, compression="none", write_batch_size=64)
    done = subprocess.run([sys.executable, "-c", _SLICE_PEAK, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=True)
    blocks, rows, first, grown_mib = map(int, done.stdout.split())
    assert blocks >= 8 and 0 < rows < count // 4
    assert first == count - rows  # the last block holds the group's last rows
    assert grown_mib < 120, f"reading an 8 MiB slice grew the process by {grown_mib} MiB"


@pytest.mark.parametrize("name", ["multi.csv", "multi.csv.gz"])
def test_quoted_values_span_lines_in_an_object_store(make_spec, run, name):
    """The same reading from an fsspec filesystem other than the local disk (its blocks
    found and read through fsspec, compressed or not)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    data = MULTILINE_CSV if name == "multi.csv" else gzip.compress(MULTILINE_CSV)
    fs.pipe(f"/store-{name}/{name}", data)
    try:
        version = run(make_spec(source={"paths": [f"memory:///store-{name}/{name}"],
                                        "block_size": 16}))
    finally:
        fs.rm(f"/store-{name}", recursive=True)
    assert rows_of(version.path).column("id").to_pylist() == [1, 2, 3, 4, 6]
    assert [(r["_source_line"], r["_source_file"]) for r in read_quarantine(version)] == [
        (10, f"memory:///store-{name}/{name}")]
