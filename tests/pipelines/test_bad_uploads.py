"""Uploads that cannot be read at all reject the run with one line naming the file, and
nothing is published."""

from __future__ import annotations

import gzip
import os

import pytest

from pipelines.errors import UploadRejected

GOOD = b"id,name,amount\n1,a,1\n"


def _assert_rejected(run, spec, tmp_path, *fragments: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        run(spec)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    out = tmp_path / "out"
    assert not (out / "LATEST").exists()
    assert not list(out.glob("v*"))
    assert not list((out / "_staging").glob("*")) if (out / "_staging").exists() else True


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("garbage.csv", os.urandom(4096) + b"\x00\x00", "binary"),
        ("png.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
        ("rows.jsonl", b"id,name,amount\n1,a,1\n", "not JSON Lines"),
        ("fake.parquet", GOOD, "not a Parquet file"),
        ("cols.csv", b"a,b,c\n1,2,3\n", "missing columns"),
        ("dupe.csv", b"id,id,name,amount\n1,1,a,1\n", "duplicate column names"),
    ],
)
def test_unreadable_upload_rejected(make_spec, uploads, run, tmp_path, name, content, problem):
    uploads("good.csv", GOOD)
    uploads(name, content)
    _assert_rejected(run, make_spec(), tmp_path, name, problem)


def test_truncated_gzip_rejected(make_spec, uploads, run, tmp_path):
    body = b"id,name,amount\n" + b"".join(b"%d,n%d,%d\n" % (i, i, i) for i in range(20000))
    uploads("cut.csv.gz", gzip.compress(body)[:-200])
    _assert_rejected(run, make_spec(), tmp_path, "cut.csv.gz", "cannot read")


def test_header_only_upload_is_empty_not_an_error(make_spec, uploads, run):
    uploads("header.csv", b"id,name,amount\n")
    uploads("good.csv", GOOD)
    version = run(make_spec())
    rows = {i["path"].rsplit("/", 1)[-1]: i["rows_read"] for i in version.manifest["inputs"]}
    assert rows == {"good.csv": 1, "header.csv": 0}


def test_no_data_rows_at_all_rejected(make_spec, uploads, run, tmp_path):
    uploads("header.csv", b"id,name,amount\n")
    _assert_rejected(run, make_spec(), tmp_path, "no data rows")


def test_missing_input_rejected(make_spec, run, tmp_path):
    _assert_rejected(run, make_spec(source={"paths": ["nowhere/*.csv"]}), tmp_path,
                     "nowhere", "nothing matches")


def test_unknown_extension_rejected(make_spec, uploads, run, tmp_path):
    uploads("data.bin", GOOD)
    _assert_rejected(run, make_spec(source={"paths": ["uploads/data.bin"]}), tmp_path,
                     "data.bin", "source.format")
