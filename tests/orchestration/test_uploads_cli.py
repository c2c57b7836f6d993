"""``assay uploads``: reading the ledger, and what ``retry`` refuses, without a server (the
retry that publishes is in test_served.py)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from assay.pipelines.ledger import Ledger
from tests.orchestration.test_cli import ASSAY, _env


def _rejected(data_dir: Path, body: bytes, name: str = "towns.csv") -> str:
    """A landed upload that a run rejected; its id."""
    ledger = Ledger.in_data_dir(data_dir)
    landed = data_dir / "landing" / "p" / name
    landed.parent.mkdir(parents=True, exist_ok=True)
    landed.write_bytes(body)
    upload, _ = ledger.register("p", hashlib.sha256(body).hexdigest(), len(body), str(landed),
                                name=name)
    assert ledger.claim(upload.id) is not None
    ledger.finish(upload.id, "rejected", reason=f"{landed}: missing columns ['city']")
    return upload.id


def _assay(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, "uploads", *args], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_list_and_show_read_the_ledger(tmp_path: Path, data_dir: Path) -> None:
    upload_id = _rejected(data_dir, b"id,town\n1,Oslo\n")
    listed = _assay(tmp_path, "list", "--state", "rejected")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(upload_id)]
    assert row.split()[:4] == [upload_id, "p", "towns.csv", "rejected"]
    assert _assay(tmp_path, "list", "--pipeline", "other").stdout.startswith("0 upload(s)")
    shown = _assay(tmp_path, "show", upload_id)
    assert "reason:    " in shown.stdout and "missing columns ['city']" in shown.stdout
    bad = _assay(tmp_path, "list", "--state", "done")
    assert (bad.returncode, bad.stderr.strip()) == (2, "error: --state done: not a state; one "
                                                    "of received, pending, running, published,"
                                                    " rejected, failed")
    missing = _assay(tmp_path, "show", "nope")
    assert missing.returncode == 2 and "no upload 'nope' in the ledger" in missing.stderr
    elsewhere = _assay(tmp_path, "list", "--data-dir", str(tmp_path / "other"))
    assert (elsewhere.returncode, elsewhere.stderr.strip()) == (
        2, f"error: no upload ledger at {tmp_path / 'other' / 'ledger.sqlite3'} (no uploads "
        "yet, or another --data-dir)")
    assert not (tmp_path / "other").exists()


def test_retry_without_a_server_keeps_the_upload_pending(tmp_path: Path,
                                                         data_dir: Path) -> None:
    upload_id = _rejected(data_dir, b"id,town\n1,Oslo\n")
    done = _assay(tmp_path, "retry", upload_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"upload {upload_id} (towns.csv): pending: ingestion "
                                  "pending: PREFECT_API_URL is not set"), done.stdout
    assert Ledger.in_data_dir(data_dir).get(upload_id).state == "pending"


def test_retry_refuses_what_it_cannot_retry_and_goes_on(tmp_path: Path,
                                                       data_dir: Path) -> None:
    changed = _rejected(data_dir, b"id,town\n1,Oslo\n", "changed.csv")
    (data_dir / "landing" / "p" / "changed.csv").write_text("id,city\n2,Lima\n")
    fine = _rejected(data_dir, b"id,town\n3,Pune\n")
    done = _assay(tmp_path, "retry", "nope", changed, fine)
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert errors[0].startswith("error: no upload 'nope' in the ledger at "), errors
    assert errors[1].startswith(f"error: upload {changed}: ") and errors[1].endswith(
        "no longer holds the uploaded bytes; send the file again as a new upload"), errors
    ledger = Ledger.in_data_dir(data_dir)
    assert (ledger.get(changed).state, ledger.get(fine).state) == ("rejected", "pending")
