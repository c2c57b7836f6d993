"""Fuzzing the CSV and JSON Lines readers (bounded: a few hundred examples each).

Property: an upload is either rejected cleanly (``UploadRejected``, one line naming the
file) or every record is accounted for exactly once, as a live row or a quarantined one,
with the number of its first line: every line that holds anything when no quoted CSV value
can span lines, a subset of them when one can. Whatever the block size, the rows are the
same as when the upload is read as one block, and the same whatever the plan's hint that a
block's lines are its records says (a reader checks it). Inputs: arbitrary bytes, and
near-valid files (good records mixed with broken ones, odd quoting, every line ending, a
BOM, bad UTF-8), read in blocks as small as 16 bytes so block boundaries are fuzzed too.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.pipelines.errors import UploadRejected
from assay.pipelines.plan import plan_run
from assay.pipelines.routing import empty_routed
from assay.pipelines.sources.read import _read_block, data_meta
from assay.pipelines.spec import parse_spec

SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "name", "type": "string"},
                      {"name": "amount", "type": "float64"}]}
# each example plans and reads its upload three times; ASSAY_FUZZ_EXAMPLES=5000 for a longer
# hunt
FUZZ = settings(max_examples=int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "100")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _read(content: bytes, name: str, block_size: int, record_limit: int,
          flip_hints: bool = False) -> pd.DataFrame | None:
    """Plan and read ``content`` as the upload ``name``: the routed rows of every block,
    or None when the upload is rejected (after checking the rejection's one line).
    ``flip_hints``: each block read with the opposite of the plan's hint that its lines
    are its records (the plan's own hint is the plain read)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "uploads").mkdir()
        (root / "uploads" / name).write_bytes(content)
        spec = parse_spec({"name": "fuzz", "schema": SCHEMA, "sink": {"path": "out"},
                           "source": {"paths": ["uploads"], "block_size": block_size,
                                      "max_record_bytes": record_limit}},
                          str(root / "pipeline.yaml"), root)
        try:
            plan = plan_run(spec)
            meta = empty_routed(data_meta(spec, plan))
            hinted = [(upload, replace(block, lines_are_records=not block.lines_are_records)
                       if flip_hints else block)
                      for upload in plan.inputs for block in upload.blocks]
            parts = [_read_block(item, spec, meta) for item in hinted]
        except UploadRejected as exc:
            message = str(exc)
            assert "\n" not in message and name in message, message
            return None
    return pd.concat(parts, ignore_index=True)


def _content_lines(content: bytes, header: bool) -> list[int]:
    """Numbers of the lines that hold something (not empty, not a lone carriage return;
    a byte order mark starting a line, as where files were joined, is not content)."""
    lines = content.split(b"\n")
    if content.endswith(b"\n"):
        lines.pop()
    first = 2 if header else 1
    return [n for n, line in enumerate(lines, start=1)
            if n >= first and line.removeprefix(b"\xef\xbb\xbf") not in (b"", b"\r")]


def _by_line(routed: pd.DataFrame) -> pd.DataFrame:
    return routed.sort_values("_source_line", kind="stable").reset_index(drop=True)


def _assert_accounted(content: bytes, name: str, block_size: int, header: bool,
                      record_limit: int = 1 << 24) -> None:
    routed = _read(content, name, block_size, record_limit)
    if routed is None:
        return
    seen = sorted(routed["_source_line"].tolist())
    lines = _content_lines(content, header)
    if name.endswith(".csv") and b'"' in content:  # a record may span lines
        assert len(set(seen)) == len(seen) and set(seen) <= set(lines)
    else:
        assert seen == lines
    whole = _read(content, name, 1 << 30, record_limit)
    assert whole is not None
    pd.testing.assert_frame_equal(_by_line(routed), _by_line(whole))
    hinted = _read(content, name, block_size, record_limit, flip_hints=True)
    assert hinted is not None  # the plan's hint never changes a row, right or wrong
    pd.testing.assert_frame_equal(hinted, routed)
    quarantined = routed[routed["_fate"].notna()]
    assert (quarantined["_fate"] == "quarantined").all()
    assert quarantined["_reasons"].map(len).gt(0).all()


BLOCK_SIZES = st.sampled_from([16, 64, 1024, 1 << 20])
RECORD_LIMITS = st.sampled_from([48, 1 << 24])  # 48: records over it, open quotes cut off
ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"])
CSV_FIELDS = st.one_of(
    st.integers(-(2**70), 2**70).map(lambda i: str(i).encode()),
    st.floats().map(lambda f: repr(f).encode()),
    st.sampled_from([b"", b'"', b'""', b'"a,b"', b'"a""b"', b'a"b', b"NaN", b"inf",
                     b"\xff\xfe", b"\xc3\x28", b"\x00", b" ", b"\t", b"\xef\xbb\xbf"]),
    st.text(max_size=8).map(str.encode),
)
CSV_LINES = st.lists(st.lists(CSV_FIELDS, min_size=0, max_size=5).map(b",".join),
                     max_size=30)


@st.composite
def near_valid_csv(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from([b"id,name,amount", b"\xef\xbb\xbfid,name,amount",
                                   b"id,amount,name,extra"]))
    lines = [header, *draw(CSV_LINES)]
    return b"".join(line + draw(ENDINGS) for line in lines)[: draw(st.integers(1, 4000))]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=3),
    max_leaves=10,
)
JSON_RECORDS = st.dictionaries(st.sampled_from(["id", "name", "amount", "other"]),
                               JSON_VALUES, max_size=4)


@st.composite
def near_valid_jsonl(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(JSON_RECORDS, min_size=1, max_size=20))
    lines = []
    for record in records:
        line = json.dumps(record).encode()
        damage = draw(st.sampled_from(["none", "none", "cut", "insert", "bytes"]))
        if damage == "cut":
            line = line[: draw(st.integers(0, len(line)))]
        elif damage == "insert":
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from([b"{", b"}", b'"', b",", b"\r", b"NaN",
                                                     b"\xff", b"[" * 200])) + line[at:]
        elif damage == "bytes":
            line = draw(st.binary(max_size=20))
        lines.append(line + draw(ENDINGS))
    return b"".join(lines)


@FUZZ
@given(content=st.binary(max_size=2000), block_size=BLOCK_SIZES)
def test_csv_reader_on_arbitrary_bytes(content: bytes, block_size: int) -> None:
    _assert_accounted(content, "fuzz.csv", block_size, header=True)


@FUZZ
@given(content=near_valid_csv(), block_size=BLOCK_SIZES, record_limit=RECORD_LIMITS)
def test_csv_reader_on_near_valid_csv(content: bytes, block_size: int, record_limit: int
                                      ) -> None:
    _assert_accounted(content, "fuzz.csv", block_size, header=True, record_limit=record_limit)


@FUZZ
@given(content=st.binary(max_size=2000), block_size=BLOCK_SIZES)
def test_jsonl_reader_on_arbitrary_bytes(content: bytes, block_size: int) -> None:
    _assert_accounted(content, "fuzz.jsonl", block_size, header=False)


@FUZZ
@given(content=near_valid_jsonl(), block_size=BLOCK_SIZES, record_limit=RECORD_LIMITS)
def test_jsonl_reader_on_near_valid_jsonl(content: bytes, block_size: int, record_limit: int
                                          ) -> None:
    _assert_accounted(content, "fuzz.jsonl", block_size, header=False,
                      record_limit=record_limit)
