"""Hostile and broken uploads, each with the outcome assay promises for it.

Every case is built from a seeded ``random.Random`` (seeded by its name), so the bytes are
the same on every machine and run; nothing here is committed as data. The tests
(``tests/pipelines/test_bad_uploads.py``) run each case through the real pipeline and check
its promised outcome; docs/bad-uploads.md lists the same cases.

    python -m data_samples.hostile OUT_DIR      # write every case's upload to OUT_DIR
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

Outcome = Literal["rejected", "quarantined", "published"]

HEADER = b"id,name,amount\n"
SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "name", "type": "string"},
                      {"name": "amount", "type": "float64"}]}
TIMESTAMP_SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                                {"name": "ts", "type": "timestamp"}]}
BOMB_LIMIT = "8MiB"  # the cases' source.max_decompressed_bytes; a bomb expands past it
LONG_LINE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One bad upload: its file name (the extension is what the upload claims to be), the
    kind of hostility, how to build its bytes, and the promised outcome."""

    name: str
    kind: str
    build: Callable[[random.Random], bytes]
    outcome: Outcome
    problem: str  # in the rejection line, or in every quarantine reason
    written: int = 0  # rows published (quarantined and published outcomes)
    quarantined: int = 0
    schema: dict[str, Any] = field(default_factory=lambda: SCHEMA)
    source: dict[str, Any] = field(default_factory=dict)  # spec source.* overrides

    def bytes(self) -> bytes:
        return self.build(random.Random(zlib.crc32(self.name.encode())))


def _rows(rng: random.Random, count: int, start: int = 1) -> bytes:
    return b"".join(b"%d,n%d,%d.%d\n" % (i, rng.randrange(1000), rng.randrange(100), i % 10)
                    for i in range(start, start + count))


def _csv(rows: int) -> Callable[[random.Random], bytes]:
    return lambda rng: HEADER + _rows(rng, rows)


def _with(*lines: bytes, rows: int = 3) -> Callable[[random.Random], bytes]:
    """A good CSV of ``rows`` rows, then the given raw lines, then one more good row."""
    return lambda rng: HEADER + _rows(rng, rows) + b"".join(lines) + _rows(rng, 1, 900)


def _garbage(nul: bool) -> Callable[[random.Random], bytes]:
    def build(rng: random.Random) -> bytes:
        data = bytes(rng.randrange(128, 256) for _ in range(8192))
        return data[:100] + b"\x00\x00" + data[100:] if nul else data

    return build


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def _truncated(compress: Callable[[bytes], bytes]) -> Callable[[random.Random], bytes]:
    def build(rng: random.Random) -> bytes:
        whole = compress(HEADER + _rows(rng, 20_000))
        return whole[: len(whole) * 2 // 3]

    return build


def _bomb(compress: Callable[[bytes], bytes], head: bytes, line: bytes
          ) -> Callable[[random.Random], bytes]:
    """A small file (6 KiB of zstd, 127 KiB of gzip) that expands to 64 MiB of records."""
    return lambda rng: compress(head + line * (64 * 1024 * 1024 // len(line)))


def _jsonl(*records: str) -> Callable[[random.Random], bytes]:
    return lambda rng: "".join(r + "\n" for r in records).encode()


def _good_json(i: int) -> str:
    return json.dumps({"id": i, "name": f"n{i}", "amount": i / 2})


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _good_parquet(rng: random.Random) -> bytes:
    return _parquet(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"],
                              "amount": [1.0, 2.0, 3.0]}))


def _corrupt_footer(rng: random.Random) -> bytes:
    whole = _good_parquet(rng)
    return whole[:-12] + bytes(rng.randrange(256) for _ in range(8)) + b"PAR1"


def _long_line(rng: random.Random) -> bytes:
    return HEADER + _rows(rng, 2) + b"3,"+ b"x" * LONG_LINE_BYTES + b",1\n" + _rows(rng, 1, 4)


def _utf16(text: str) -> Callable[[random.Random], bytes]:
    return lambda rng: text.encode("utf-16")  # with its BOM, little-endian here


_DEEP = 100_000
CASES: list[Case] = [
    # nothing to read
    Case("empty.csv", "empty", lambda rng: b"", "rejected", "the file is empty"),
    Case("blank.csv", "empty", lambda rng: b"\n\r\n  \n", "rejected", "the file is empty"),
    Case("empty.jsonl", "empty", lambda rng: b"", "rejected", "the file is empty"),
    Case("header_only.csv", "header only", lambda rng: HEADER, "rejected", "no data rows"),
    # not text
    Case("garbage.csv", "binary garbage", _garbage(nul=True), "rejected", "binary data"),
    Case("garbage.jsonl", "binary garbage", _garbage(nul=False), "rejected", "not UTF-8"),
    Case("png.csv", "binary garbage",
         lambda rng: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "rejected",
         "binary data"),
    # compression
    Case("truncated.csv.gz", "truncated gzip", _truncated(_gzip), "rejected", "cannot read"),
    Case("truncated.csv.zst", "truncated zstd", _truncated(_zstd), "rejected", "cannot read"),
    Case("bomb.csv.gz", "zip bomb", _bomb(_gzip, HEADER, b"1,aaaaaaaa,1.5\n"), "rejected",
         "decompresses to more than", source={"max_decompressed_bytes": BOMB_LIMIT}),
    Case("bomb.jsonl.zst", "zip bomb", _bomb(_zstd, b"", _good_json(1).encode() + b"\n"),
         "rejected", "decompresses to more than",
         source={"max_decompressed_bytes": BOMB_LIMIT}),
    # encodings and line endings
    Case("bom.csv", "UTF-8 BOM", lambda rng: b"\xef\xbb\xbf" + _csv(4)(rng), "published", "",
         written=4),
    Case("bom.jsonl", "UTF-8 BOM",
         lambda rng: b"\xef\xbb\xbf" + _jsonl(_good_json(1), _good_json(2))(rng), "published",
         "", written=2),
    Case("utf16.csv", "UTF-16", _utf16("id,name,amount\n1,a,1\n"), "rejected", "UTF-16"),
    Case("utf16.jsonl", "UTF-16", _utf16(_good_json(1) + "\n"), "rejected", "UTF-16"),
    Case("mixed_endings.csv", "mixed line endings",
         lambda rng: b"id,name,amount\r\n1,a,1\n2,b,2\r\n3,c,3\n4,d,4\r\n", "published", "",
         written=4),
    Case("old_mac_endings.csv", "mixed line endings",
         lambda rng: b"id,name,amount\n1,a,1\n2,b,2\r3,c,3\n", "quarantined",
         "a lone carriage return", written=1, quarantined=1),
    Case("long_line.csv", "100 MB single line", _long_line, "quarantined",
         "malformed: a record longer than", written=3, quarantined=1),
    # CSV structure
    Case("unbalanced_quote.csv", "unbalanced quotes", _with(b'50,"open,1\n'),
         "quarantined", "malformed: unbalanced quote", written=4, quarantined=1),
    Case("multiline_value.csv", "quoted values spanning lines",
         _with(b'40,"line one\nline two, and ""three""",1\n', b'41,"\r\n",2\n'),
         "published", "", written=6),
    Case("stray_quote.csv", "unbalanced quotes", _with(b'51,a"b,1\n', b'52,"a"b",1\n'),
         "published", "", written=6),
    Case("too_many_fields.csv", "too many fields", _with(b"60,x,1,extra\n", b"61,y,2,,\n"),
         "quarantined", "malformed: expected 3 fields", written=4, quarantined=2),
    Case("too_few_fields.csv", "too few fields", _with(b"70,x\n", b"71\n"), "quarantined",
         "malformed: expected 3 fields", written=4, quarantined=2),
    Case("duplicate_columns.csv", "duplicate column names",
         lambda rng: b"id,name,amount,name\n1,a,1,b\n", "rejected", "duplicate column names"),
    Case("path_columns.csv", "column names with path separators",
         lambda rng: b"id,name,amount,../../etc/passwd,a\\b\n1,a,1,x,y\n2,b,2,x,y\n",
         "published", "", written=2),
    Case("control_columns.csv", "column names with control characters",
         lambda rng: b"id,name,amount,red\x1b[31m\n1,a,1,x\n", "rejected",
         "control characters"),
    Case("newline_column.csv", "column names with control characters",
         lambda rng: b'id,name,"amount\rx"\n1,a,1\n', "rejected", "control characters"),
    # JSON
    Case("deep.jsonl", "deep JSON nesting",
         _jsonl(_good_json(1), '{"id": 2, "name": ' + "[" * _DEEP + "]" * _DEEP + "}",
                _good_json(3)), "quarantined", "schema: name is not string", written=2,
         quarantined=1),
    Case("deep_kept.jsonl", "deep JSON nesting",
         _jsonl(_good_json(1), '{"id": 2, "x": ' + "[" * _DEEP + "]" * _DEEP + "}",
                _good_json(3)), "quarantined", "invalid record: nested deeper than 1,000",
         written=2, quarantined=1, schema={**SCHEMA, "extra_columns": "keep"}),
    Case("deep_object.jsonl", "deep JSON nesting",
         _jsonl(_good_json(1), '{"id": 2, "x": ' + '{"a":' * _DEEP + "1" + "}" * _DEEP + "}"),
         "published", "", written=2),
    Case("nan.jsonl", "NaN / Infinity",
         _jsonl(_good_json(1), '{"id": 2, "amount": NaN}', '{"id": 3, "amount": Infinity}',
                '{"id": 4, "amount": -Infinity}'),
         "published", "", written=4),
    Case("nan.csv", "NaN / Infinity", _with(b"80,a,NaN\n", b"81,b,inf\n", b"82,c,-Infinity\n"),
         "published", "", written=7),
    Case("huge_ints.csv", "numbers beyond int64",
         _with(b"9223372036854775808,a,1\n", b"-99999999999999999999999,b,1\n",
               b"1,c,1e999\n"),
         "quarantined", "schema: id is not int64", written=5, quarantined=2),
    Case("huge_ints.jsonl", "numbers beyond int64",
         _jsonl(_good_json(1), '{"id": 9223372036854775808, "name": "a"}',
                '{"id": 1e400, "name": "b"}'),
         "quarantined", "schema: id is not int64", written=1, quarantined=2),
    Case("timestamps.csv", "timestamps out of range",
         lambda rng: (b"id,ts\n1,2024-05-01T10:00:00Z\n2,10000-01-01T00:00:00\n"
                      b"3,-0001-01-01\n4,2024-13-45\n5,99999999999-01-01\n"
                      b"6,1677-09-21T00:12:43\n7,2262-04-11T23:47:17\n"),
         "quarantined", "schema: ts is not timestamp", written=3, quarantined=4,
         schema=TIMESTAMP_SCHEMA),
    # Parquet
    Case("other_schema.parquet", "Parquet with a different schema",
         lambda rng: _parquet(pa.table({"x": [1, 2], "y": ["a", "b"]})), "rejected",
         "missing columns"),
    Case("other_types.parquet", "Parquet with a different schema",
         lambda rng: _parquet(pa.table({"id": ["1", "two", None], "name": [1, 2, 3],
                                        "amount": ["1.5", "x", "2"]})),
         "quarantined", "schema:", written=1, quarantined=2),
    Case("corrupt_footer.parquet", "Parquet with a corrupt footer", _corrupt_footer,
         "rejected", "not a readable Parquet file"),
    Case("truncated.parquet", "Parquet with a corrupt footer",
         lambda rng: _good_parquet(rng)[:200], "rejected", "Parquet"),
    # extensions that lie
    Case("csv_inside.parquet", "extension lies", _csv(3), "rejected", "not a Parquet file"),
    Case("parquet_inside.csv", "extension lies", _good_parquet, "rejected",
         "Parquet data, not CSV"),
    Case("gzip_inside.csv", "extension lies", lambda rng: _gzip(_csv(3)(rng)), "rejected",
         "gzip data, not CSV"),
    Case("zstd_inside.jsonl", "extension lies",
         lambda rng: _zstd(_jsonl(_good_json(1))(rng)), "rejected", "zstd data, not JSONL"),
    Case("plain_inside.csv.gz", "extension lies", _csv(3), "rejected", "cannot read"),
    Case("csv_inside.jsonl", "extension lies", _csv(3), "rejected", "not JSON Lines"),
    Case("jsonl_inside.csv", "extension lies", _jsonl(_good_json(1)), "rejected",
         "missing columns"),
]


def write_cases(folder: Path, cases: list[Case] = CASES) -> dict[str, Path]:
    """Write each case's upload into ``folder/<case name>/``; the paths by case name."""
    written = {}
    for case in cases:
        path = folder / case.name.replace(".", "_") / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.bytes())
        written[case.name] = path
    return written


if __name__ == "__main__":
    write_cases(Path(sys.argv[1]))
