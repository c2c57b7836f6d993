"""Dataset-wide dedup: appends drop rows the published table holds, exactly (values, not
hashes, decide), with the twin's version in the reason; the index follows the table through
overwrites and crashes, and its bytes do not depend on the worker count."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import assay
from assay.pipelines import dedup_index, publish
from assay.pipelines import table as delta
from assay.pipelines.errors import SpecError
from assay.transforms import dedup
from tests.pipelines.conftest import read_quarantine
from tests.published import leftovers, rows_of

HEADER = b"id,name,amount\n"
# A table and index written by assay before its own key hash (version 1: pandas' hash):
# rows (1, a, 1.0), (2, b, null), (3, null, 2.5), (4, ü, -0.0), as version 0.
INDEX_V1 = Path(__file__).resolve().parents[1] / "data" / "dedup_index_v1" / "table"


def csv(*rows: tuple[int, str | None, float | None]) -> bytes:
    """An upload of ``rows`` (None: an empty field, read as null)."""
    return HEADER + b"".join(b"%d,%s,%s\n" % (i, _field(n), _field(a)) for i, n, a in rows)


def _field(value: object) -> bytes:
    return b"" if value is None else str(value).encode()


def spec_for(make_spec, mode: str = "append", **step):
    return make_spec(sink={"path": "out", "mode": mode},
                     steps=[{"op": "dedup", "keep_removed": True, **step}])


def ingest(run, spec, uploads, name: str, content: bytes):
    return run(spec, inputs=[str(uploads(name, content))])


def dropped_reasons(version) -> list[str]:
    return sorted(reason for row in read_quarantine(version) if row["_fate"] == "dropped"
                  for reason in row["_reasons"])


def ids(sink: str) -> list[int]:
    return sorted(rows_of(sink).column("id").to_pylist())


def test_an_append_drops_rows_published_before_naming_their_version(make_spec, uploads, run):
    spec = spec_for(make_spec)
    first = ingest(run, spec, uploads, "a.csv", csv((1, "a", 1.0), (2, "b", None)))
    second = ingest(run, spec, uploads, "b.csv",
                    csv((2, "b", None), (3, "c", 3.0), (3, "c", 3.0), (1, "a", 1.5)))
    third = ingest(run, spec, uploads, "c.csv", csv((3, "c", 3.0), (1, "a", 1.0), (4, "d", 4.0)))
    assert (first.version, second.version, third.version) == (0, 1, 2)
    assert dropped_reasons(second) == ["dedup: duplicate of a row in version 0", "removed by dedup"]
    assert dropped_reasons(third) == ["dedup: duplicate of a row in version 0",
                                      "dedup: duplicate of a row in version 1"]
    assert third.manifest["accounting"]["dropped_by_step"] == {"dedup": 2}
    assert ids(third.path) == [1, 1, 2, 3, 4]  # (1, a, 1.5) is a distinct row


def test_scope_run_keeps_rows_published_before(make_spec, uploads, run):
    spec = spec_for(make_spec, scope="run")
    ingest(run, spec, uploads, "a.csv", csv((1, "a", 1.0)))
    second = ingest(run, spec, uploads, "b.csv", csv((1, "a", 1.0), (2, "b", 2.0), (2, "b", 2.0)))
    assert second.manifest["accounting"]["dropped_by_step"] == {"dedup": 1}
    assert ids(second.path) == [1, 1, 2]
    assert not (Path(second.path) / dedup_index.INDEX).exists()


def test_a_hash_collision_never_drops_a_distinct_row(make_spec, uploads, run, monkeypatch):
    def constant(part, key):
        return dedup.fr.library(part).Series(7, index=part.index, dtype="uint64")

    monkeypatch.setattr(dedup, "index_hash", constant)
    monkeypatch.setattr(dedup_index, "ROW_GROUP_ROWS", 2)  # a bucket over two row groups
    spec = spec_for(make_spec)
    ingest(run, spec, uploads, "a.csv", csv((1, "a", 1.0), (2, "b", 2.0), (3, None, None)))
    second = ingest(run, spec, uploads, "b.csv",
                    csv((1, "a", 1.0), (1, "a", 2.0), (3, None, None), (4, "b", 2.0)))
    assert dropped_reasons(second) == ["dedup: duplicate of a row in version 0"] * 2
    assert ids(second.path) == [1, 1, 2, 3, 4]
    parts = (Path(second.path) / dedup_index.INDEX / "dedup" / dedup_index.PARTS).glob("*")
    groups = {tuple(json.loads(pq.read_schema(p).metadata[dedup_index.GROUP_BUCKETS]))
              for p in parts}
    assert groups == {(7, 7), (7,)}  # all collided: one bucket, row groups of at most two


def test_an_overwrite_starts_the_index_afresh(make_spec, uploads, run):
    ingest(run, spec_for(make_spec), uploads, "a.csv", csv((1, "a", 1.0)))
    ingest(run, spec_for(make_spec, "overwrite"), uploads, "b.csv", csv((2, "b", 2.0)))
    third = ingest(run, spec_for(make_spec), uploads, "c.csv",
                   csv((1, "a", 1.0), (2, "b", 2.0)))
    assert dropped_reasons(third) == ["dedup: duplicate of a row in version 1"]
    assert ids(third.path) == [1, 2]


def test_a_run_that_never_committed_leaves_no_live_index_entries(make_spec, uploads, run,
                                                                  monkeypatch):
    spec = spec_for(make_spec)
    ingest(run, spec, uploads, "a.csv", csv((1, "a", 1.0)))

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(publish.delta, "commit", crash)
        with pytest.raises(RuntimeError):
            ingest(run, spec, uploads, "b.csv", csv((2, "b", 2.0)))
    sink = Path(spec.resolve("out"))
    placed = list((sink / dedup_index.INDEX).rglob("*"))
    assert len([p for p in placed if p.is_file()]) == 4  # two runs' file and marker each
    third = ingest(run, spec, uploads, "c.csv", csv((2, "b", 2.0), (1, "a", 1.0)))
    assert dropped_reasons(third) == ["dedup: duplicate of a row in version 0"]
    assert ids(third.path) == [1, 2]
    assert leftovers(sink) == []
    live = delta.open_table(str(sink), {})
    runs = dedup_index.live_runs(live)
    for path in (sink / dedup_index.INDEX).rglob("*.*"):
        assert any(run_id in path.name for run_id in runs)


def test_index_bytes_do_not_depend_on_the_worker_count(make_spec, uploads, tmp_path):
    rows = [(i % 700, f"n{i % 13}", float(i % 50)) for i in range(4000)]
    spec = make_spec(sink={"path": "out", "mode": "append"},
                     steps=[{"op": "dedup", "partition_bytes": "8KiB"}])
    first = uploads("a.csv", csv(*rows[:2500]))
    second = uploads("b.csv", csv(*rows[1500:]))
    digests = []
    for workers in (1, 3):
        out = str(tmp_path / f"out-{workers}")
        assay.run(spec, inputs=[str(first)], output=out, workers=workers)
        result = assay.run(spec, inputs=[str(second)], output=out, workers=workers)
        index = Path(out) / dedup_index.INDEX / "dedup"
        files = sorted((p.name.split("-p")[-1], hashlib.sha256(p.read_bytes()).hexdigest())
                       for p in index.glob(f"{dedup_index.PARTS}/*.parquet"))
        digests.append(([s["sha256"] for s in result.manifest["shards"]], files))
    assert digests[0] == digests[1]
    assert len(digests[0][1]) > 3


def test_a_dataset_dedup_before_another_step_is_refused(make_spec):
    with pytest.raises(Exception, match=r"steps\[0\] \(dedup\): scope: dataset must be the "
                                        r"last step"):
        make_spec(steps=[{"op": "dedup"}, {"op": "normalize", "columns": ["name"]}])
    make_spec(steps=[{"op": "dedup", "scope": "run"}, {"op": "normalize", "columns": ["name"]}])


def test_an_append_to_a_table_without_the_index_is_refused(make_spec, uploads, run):
    ingest(run, spec_for(make_spec, scope="run"), uploads, "a.csv", csv((1, "a", 1.0)))
    with pytest.raises(SpecError, match=r"steps 'dedup' \(scope: dataset\): version 0 .* "
                                        r"without this step's index"):
        ingest(run, spec_for(make_spec), uploads, "b.csv", csv((2, "a", 1.0)))


def test_an_append_with_another_key_is_refused(make_spec, uploads, run):
    ingest(run, spec_for(make_spec), uploads, "a.csv", csv((1, "a", 1.0)))
    with pytest.raises(SpecError, match=r"keyed on \['id', 'name', 'amount'\], this run's "
                                        r"key is \['id'\]"):
        ingest(run, spec_for(make_spec, columns=["id"]), uploads, "b.csv", csv((2, "a", 1.0)))



def test_an_index_of_an_older_key_hash_still_finds_its_rows(make_spec, uploads, run):
    spec = spec_for(make_spec)
    shutil.copytree(INDEX_V1, spec.resolve("out"))
    second = ingest(run, spec, uploads, "b.csv", csv(
        (2, "b", None), (3, None, 2.5), (4, "ü", 0.0), (5, "e", 5.0), (1, "a", 1.5)))
    assert dropped_reasons(second) == ["dedup: duplicate of a row in version 0"] * 3
    third = ingest(run, spec, uploads, "c.csv", csv((5, "e", 5.0), (1, "a", 1.0), (6, "f", 6.0)))
    assert dropped_reasons(third) == ["dedup: duplicate of a row in version 0",
                                      "dedup: duplicate of a row in version 1"]
    assert ids(third.path) == [1, 1, 2, 3, 4, 5, 6]
    index = Path(third.path) / dedup_index.INDEX / "dedup"
    versions = sorted(pq.read_schema(p).metadata.get(dedup_index.HASH_VERSION, b"1")
                      for p in (index / dedup_index.PARTS).glob("*.parquet"))
    assert versions == [b"1", b"2", b"2"]
    markers = [json.loads(p.read_text()) for p in (index / "runs").glob("*.json")]
    assert sorted(m.get("key_hash", 1) for m in markers) == [1, 2, 2]


def test_an_index_of_a_newer_key_hash_is_refused(make_spec, uploads, run):
    spec = spec_for(make_spec)
    table = Path(spec.resolve("out"))
    shutil.copytree(INDEX_V1, table)
    for marker in (table / dedup_index.INDEX / "dedup" / "runs").glob("*.json"):
        marker.write_text(json.dumps({"key": ["id", "name", "amount"], "key_hash": 9}))
    with pytest.raises(SpecError, match=r"version 0 of .* was indexed with key hash version 9 "
                                        r"by a newer assay; this one reads up to version 2"):
        ingest(run, spec, uploads, "b.csv", csv((2, "b", None)))


def test_each_key_is_hashed_once_per_run(make_spec, uploads, run, monkeypatch):
    hashed, key_hash = [], dedup.fr.key_hash

    def counting(part, key):
        hashed.append(len(part))
        return key_hash(part, key)

    monkeypatch.setattr(dedup.fr, "key_hash", counting)
    spec = spec_for(make_spec, "overwrite")
    result = ingest(run, spec, uploads, "a.csv", csv(*[(i % 40, "n", 1.0) for i in range(100)]))
    assert sum(hashed) == 100  # before the shuffle; the sink writes the index from those
    assert ids(result.path) == list(range(40))
    index = Path(result.path) / dedup_index.INDEX / "dedup"
    parts = list((index / dedup_index.PARTS).glob("*"))
    groups = [pq.ParquetFile(p).metadata.row_group(g) for p in parts
              for g in range(pq.ParquetFile(p).num_row_groups)]
    chunks = [group.column(c) for group in groups for c in range(group.num_columns)]
    # lookups find row groups by bucket: no statistics, and no dictionaries on small groups
    assert not any(c.is_stats_set or c.has_dictionary_page for c in chunks)
    stored = pq.ParquetDataset(parts).read().to_pandas()
    assert stored[dedup_index.HASH].tolist() == key_hash(
        stored, ["id", "name", "amount"]).tolist()


def test_the_index_parts_follow_the_sinks_compression(make_spec, uploads, run):
    """A sink without compression writes its index parts without it too (zstd over every
    key value is most of the index's cost), and an append still finds its twins in them."""
    spec = make_spec(sink={"path": "out", "mode": "append", "compression": "none"},
                     steps=[{"op": "dedup", "keep_removed": True}])
    first = ingest(run, spec, uploads, "a.csv", csv((1, "a", 1.0), (2, "b", None)))
    second = ingest(run, spec, uploads, "b.csv", csv((2, "b", None), (3, "c", 3.0)))
    parts = sorted((Path(first.path) / dedup_index.INDEX).rglob(f"{dedup_index.PARTS}/*.parquet"))
    assert len(parts) == 2
    codecs = {group.column(c).compression for part in parts
              for group in [pq.ParquetFile(part).metadata.row_group(0)]
              for c in range(group.num_columns)}
    assert codecs == {"UNCOMPRESSED"}
    assert dropped_reasons(second) == ["dedup: duplicate of a row in version 0"]
    assert ids(second.path) == [1, 2, 3]
