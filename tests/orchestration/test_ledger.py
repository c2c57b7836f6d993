"""The ledger and the dataset lock: exactly-once claims, crash recovery, one publisher."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assay.pipelines.ledger import Ledger
from assay.pipelines.lock import LockTimeout, dataset_lock


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.in_data_dir(tmp_path)


def test_same_bytes_are_one_upload_per_pipeline(ledger: Ledger) -> None:
    first, new = ledger.register("p", "abc", 3, "/l/1.csv", name="a.csv")
    again, new_again = ledger.register("p", "abc", 3, "/l/2.csv", name="b.csv")
    other, new_other = ledger.register("q", "abc", 3, "/l/3.csv")
    assert (new, new_again, new_other) == (True, False, True)
    assert again == first and other.id != first.id


def test_of_many_concurrent_claims_exactly_one_wins(ledger: Ledger) -> None:
    upload, _ = ledger.register("p", "abc", 3, "/l/1.csv")
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(lambda _: ledger.claim(upload.id), range(16)))
    assert sum(c is not None for c in claims) == 1
    ledger.finish(upload.id, "published", version="0")
    assert ledger.claim(upload.id) is None
    assert ledger.outstanding("p") == []


def test_a_crashed_claim_is_claimed_again(ledger: Ledger) -> None:
    upload, _ = ledger.register("p", "abc", 3, "/l/1.csv")
    # a child process claims the upload and dies without finishing
    code = (f"from assay.pipelines.ledger import Ledger; from pathlib import Path; "
            f"Ledger(Path({str(ledger.path)!r})).claim({upload.id!r})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    assert ledger.get(upload.id).state == "running"  # type: ignore[union-attr]
    assert [u.id for u in ledger.outstanding("p")] == [upload.id]
    assert ledger.claim(upload.id) is not None
    assert ledger.claim(upload.id) is None  # now a live run (this process) holds it


def test_failed_is_retried_rejected_is_not(ledger: Ledger) -> None:
    failed, _ = ledger.register("p", "a", 1, "/l/a.csv")
    rejected, _ = ledger.register("p", "b", 1, "/l/b.csv")
    for upload, state in ((failed, "failed"), (rejected, "rejected")):
        ledger.claim(upload.id)
        ledger.finish(upload.id, state, reason="why")
    assert [u.id for u in ledger.outstanding("p")] == [failed.id]
    assert ledger.claim(rejected.id) is None
    assert ledger.get(rejected.id).reason == "why"  # type: ignore[union-attr]


def test_only_a_rejected_or_failed_upload_is_reopened(ledger: Ledger) -> None:
    rejected, _ = ledger.register("p", "a", 1, "/l/a.csv")
    published, _ = ledger.register("p", "b", 1, "/l/b.csv")
    ledger.claim(rejected.id)
    ledger.finish(rejected.id, "rejected", reason="why")
    ledger.claim(published.id)
    ledger.finish(published.id, "published", version="0")
    upload, reopened = ledger.reopen(rejected.id)
    assert reopened and upload is not None
    assert (upload.state, upload.reason) == ("received", None)
    assert [u.id for u in ledger.outstanding("p")] == [rejected.id]
    upload, reopened = ledger.reopen(published.id)
    assert not reopened and upload is not None and upload.state == "published"
    assert ledger.reopen("nope") == (None, False)


def test_lock_serialises_holders_of_one_dataset(tmp_path: Path) -> None:
    inside, overlaps = [], []
    guard = threading.Lock()

    def hold(_: int) -> None:
        with dataset_lock(str(tmp_path / "out"), tmp_path):
            with guard:
                inside.append(1)
                overlaps.append(len(inside))
            time.sleep(0.02)
            with guard:
                inside.pop()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(hold, range(12)))
    assert overlaps == [1] * 12


def test_lock_timeout_and_other_datasets(tmp_path: Path) -> None:
    with dataset_lock(str(tmp_path / "out"), tmp_path):
        with dataset_lock(str(tmp_path / "other"), tmp_path, timeout=0.1):
            pass
        with pytest.raises(LockTimeout, match="another run holds"), \
                dataset_lock(str(tmp_path / "out/"), tmp_path, timeout=0.1):
            pass
