"""``assay watch``: complete files only, moved into the landing zone once; a local folder
and an S3 prefix (moto's S3 server on loopback, as s3fs's own tests do)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from assay.flows.intake import Intake
from assay.flows.watch import Watcher, being_written
from assay.pipelines.registry import load_pipelines
from tests.flows.conftest import TINY_CSV
from tests.orchestration.conftest import add_pipeline

NO_SERVER = {PREFECT_API_URL: "http://127.0.0.1:9/api"}


@pytest.fixture
def watcher_for(tmp_path: Path) -> Iterator:
    folder = tmp_path / "pipelines"
    name = add_pipeline(folder, name="w")
    pipeline = load_pipelines(folder)[name]
    intake = Intake(tmp_path / "data")

    def make(source: str, settle: float, **options) -> Watcher:
        return Watcher(source, pipeline, intake, settle=settle, storage_options=options)

    with temporary_settings(updates=NO_SERVER):
        yield make


def test_a_file_still_being_written_is_ignored(watcher_for, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = watcher_for(str(drop), settle=0.3)
    (drop / ".part-upload.csv").write_text(TINY_CSV)  # a writer's temporary name
    (drop / "upload.csv.tmp").write_text(TINY_CSV)
    growing = drop / "growing.csv"
    growing.write_text("id,city\n")
    assert watcher.poll() == []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # the writer keeps appending: never settled
        with growing.open("a") as handle:
            handle.write("1,Oslo\n")
        assert watcher.poll() == []
        time.sleep(0.1)
    time.sleep(0.4)
    (received,) = watcher.poll()  # unchanged for the settle time: complete
    upload = received.upload
    assert upload.name == "growing.csv" and upload.state == "pending"
    assert not growing.exists() and Path(upload.uri).read_text().startswith("id,city\n1,Oslo")
    assert sorted(p.name for p in drop.iterdir()) == [".part-upload.csv", "upload.csv.tmp"]
    assert being_written("x.partial") and not being_written("x.csv")


def test_the_same_bytes_dropped_twice_are_one_upload(watcher_for, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = watcher_for(str(drop), settle=0)
    (drop / "a.csv").write_text(TINY_CSV)
    watcher.poll()
    (first,) = watcher.poll()
    (drop / "b.csv").write_text(TINY_CSV)
    watcher.poll()
    (second,) = watcher.poll()
    assert second.duplicate and second.upload.id == first.upload.id
    assert len(list((tmp_path / "data" / "landing" / "w").iterdir())) == 1


def test_a_refused_file_stays_where_it_is(watcher_for, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = watcher_for(str(drop), settle=0)
    (drop / "big.csv").write_text("id,city\n" + "1,Oslo\n" * 1000)  # over 4 KiB
    (drop / "notes.doc").write_text("?")
    watcher.poll()
    assert watcher.poll() == [] and watcher.poll() == []
    assert sorted(p.name for p in drop.iterdir()) == ["big.csv", "notes.doc"]
    assert not list((tmp_path / "data" / "landing" / "w").glob("*.csv"))


def test_a_file_the_storage_fails_to_hand_over_does_not_stop_the_others(
        watcher_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = watcher_for(str(drop), settle=0)
    (drop / "a.csv").write_text(TINY_CSV)
    (drop / "b.csv").write_text("id,city\n9,Baku\n")
    opened = watcher.fs.open
    failures = [OSError(5, "Input/output error")]  # one storage hiccup, on a.csv

    def flaky_open(path: str, *args, **kwargs):
        if path.endswith("a.csv") and failures:
            raise failures.pop()
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(watcher.fs, "open", flaky_open)
    watcher.poll()
    (taken,) = watcher.poll()
    assert taken.upload.name == "b.csv"
    assert "a.csv: not taken this time (OSError: [Errno 5] Input/output error)" in caplog.text
    assert (drop / "a.csv").exists() and not list(
        (tmp_path / "data" / "landing" / "w").glob(".incoming-*"))
    (retaken,) = watcher.poll()
    assert retaken.upload.name == "a.csv" and not (drop / "a.csv").exists()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from assay.flows.server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_an_s3_prefix_is_watched_through_fsspec(watcher_for, s3_endpoint: str) -> None:
    import s3fs

    options = {"key": "testing", "secret": "testing",
               "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}}
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing"
                 ).create_bucket(Bucket="uploads")
    fs = s3fs.S3FileSystem(**options)
    fs.pipe("uploads/in/part-1.csv", TINY_CSV.encode())
    fs.pipe("uploads/in/.writing.csv", b"id,city\n")
    watcher = watcher_for("s3://uploads/in", settle=0, **options)
    watcher.poll()
    (received,) = watcher.poll()
    upload = received.upload
    assert upload.sha256 == hashlib.sha256(TINY_CSV.encode()).hexdigest()
    assert Path(upload.uri).read_text() == TINY_CSV
    fs.invalidate_cache()
    assert fs.ls("uploads/in", detail=False) == ["uploads/in/.writing.csv"]
