"""The upload ledger: every upload of every pipeline, keyed by content hash, with its fate.

It is what makes ingestion exactly-once. The same bytes sent twice to one pipeline are one
row, so the second send is acknowledged, not ingested. A run must *claim* an upload before
ingesting it; the claim is one SQLite transaction, so of two triggers for the same upload
exactly one wins. A claim records its owner (host and process id): when that process is
gone without finishing (a crash, a kill), the upload may be claimed again, so the next
trigger or scheduled run retries it.

States: ``received`` (landed, ingestion triggered), ``pending`` (landed, but no Prefect
server took the trigger yet), ``running``, ``published`` (as ``version``), ``rejected`` (the
data is at fault: ``reason``; not retried unless someone reopens it, e.g. once the spec that
rejected it is fixed), ``failed`` (something else went wrong: ``reason``; retried by the
next trigger or schedule).
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

from assay.pipelines.data_dir import default_data_dir
from assay.pipelines.owners import owner_gone, this_process

RETRYABLE = ("received", "pending", "failed")
DONE = ("published", "rejected")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uri TEXT NOT NULL,
    name TEXT,
    state TEXT NOT NULL,
    version TEXT,
    reason TEXT,
    flow_run_id TEXT,
    owner TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (pipeline, sha256)
)
"""


def ledger_path(data_dir: Path) -> Path:
    return data_dir / "ledger.sqlite3"


def landing_folder(data_dir: Path, pipeline: str) -> Path:
    """Where the intakes land a pipeline's uploads."""
    return data_dir / "landing" / pipeline


def content_sha256(url: str, storage_options: dict[str, Any] | None = None) -> str:
    """The sha256 of a file's bytes, streamed (local path or fsspec URL)."""
    digest = hashlib.sha256()
    with fsspec.open(url, "rb", **(storage_options or {})) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Upload:
    id: str
    pipeline: str
    sha256: str
    size: int
    uri: str
    name: str | None
    state: str
    version: str | None
    reason: str | None
    flow_run_id: str | None
    owner: str | None
    created_at: str
    updated_at: str

    @property
    def needs_run(self) -> bool:
        """Not published or rejected, and no live run holds it (a crashed one may)."""
        return self.state in RETRYABLE or (
            self.state == "running" and owner_gone(self.owner, self.updated_at))


class Ledger:
    """The ledger in one SQLite file (WAL, so readers never wait for the writer); safe to
    share between processes on one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.execute(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path | None = None) -> Ledger:
        return cls(ledger_path(data_dir or default_data_dir()))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so that read-then-write
        (a claim) cannot interleave with another process's."""
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def _one(self, db: sqlite3.Connection, where: str, *args: Any) -> Upload | None:
        row = db.execute(f"SELECT * FROM uploads WHERE {where}", args).fetchone()
        return Upload(**dict(row)) if row else None

    def register(self, pipeline: str, sha256: str, size: int, uri: str,
                 name: str | None = None, state: str = "received",
                 upload_id: str | None = None) -> tuple[Upload, bool]:
        """Record a landed upload; ``(upload, True)`` when new, or the row already holding
        these bytes for this pipeline and ``False``. ``upload_id`` defaults to a new uuid."""
        with self._transaction() as db:
            existing = self._one(db, "pipeline = ? AND sha256 = ?", pipeline, sha256)
            if existing is not None:
                return existing, False
            now = _now()
            upload_id = upload_id or uuid.uuid4().hex
            db.execute(
                "INSERT INTO uploads (id, pipeline, sha256, size, uri, name, state, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (upload_id, pipeline, sha256, size, uri, name, state, now, now))
            return self._one(db, "id = ?", upload_id), True  # type: ignore[return-value]

    def get(self, upload_id: str) -> Upload | None:
        with self._transaction() as db:
            return self._one(db, "id = ?", upload_id)

    def find(self, pipeline: str, sha256: str) -> Upload | None:
        with self._transaction() as db:
            return self._one(db, "pipeline = ? AND sha256 = ?", pipeline, sha256)

    def mark(self, upload_id: str, state: str, reason: str | None = None) -> None:
        """Set ``received`` or ``pending`` (whether a server took the trigger), unless the
        upload has moved on meanwhile (a run claimed it)."""
        with self._transaction() as db:
            db.execute("UPDATE uploads SET state = ?, reason = ?, updated_at = ? "
                       "WHERE id = ? AND state IN ('received', 'pending', 'failed')",
                       (state, reason, _now(), upload_id))

    def claim(self, upload_id: str, flow_run_id: str | None = None) -> Upload | None:
        """Take the upload for one run; None when it is done or another live run has it."""
        with self._transaction() as db:
            upload = self._one(db, "id = ?", upload_id)
            if upload is None or upload.state in DONE:
                return None
            if upload.state == "running" and not owner_gone(upload.owner, upload.updated_at):
                return None
            db.execute("UPDATE uploads SET state = 'running', owner = ?, flow_run_id = ?, "
                       "reason = NULL, updated_at = ? WHERE id = ?",
                       (this_process(), flow_run_id, _now(), upload_id))
            return self._one(db, "id = ?", upload_id)

    def finish(self, upload_id: str, state: str, *, version: str | None = None,
               reason: str | None = None) -> None:
        """Record the end of a claimed run: published, rejected or failed."""
        if state not in (*DONE, "failed"):
            raise ValueError(f"not a final state: {state}")
        with self._transaction() as db:
            db.execute("UPDATE uploads SET state = ?, version = ?, reason = ?, owner = NULL, "
                       "updated_at = ? WHERE id = ?",
                       (state, version, reason, _now(), upload_id))

    def reopen(self, upload_id: str) -> tuple[Upload | None, bool]:
        """Make a rejected or failed upload ``received`` again, so that it is ingested anew
        (its spec was fixed); ``(upload, True)`` when it was reopened, ``(upload, False)``
        when it was in another state, ``(None, False)`` when there is no such upload."""
        with self._transaction() as db:
            reopened = db.execute(
                "UPDATE uploads SET state = 'received', version = NULL, reason = NULL, "
                "owner = NULL, updated_at = ? WHERE id = ? AND state IN ('rejected', 'failed')",
                (_now(), upload_id)).rowcount == 1
            return self._one(db, "id = ?", upload_id), reopened

    def outstanding(self, pipeline: str | None = None) -> list[Upload]:
        """Uploads not yet published or rejected and not held by a live run, oldest first:
        what a retry (a trigger, a schedule, an intake's start) should pick up."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM uploads WHERE state NOT IN ('published', 'rejected') "
                "AND (? IS NULL OR pipeline = ?) ORDER BY created_at, id",
                (pipeline, pipeline)).fetchall()
        return [u for u in (Upload(**dict(row)) for row in rows) if u.needs_run]

    def history(self, pipeline: str | None = None, state: str | None = None) -> list[Upload]:
        """Every upload (of ``pipeline``, in ``state``: None is any), oldest first."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM uploads WHERE (? IS NULL OR pipeline = ?) "
                "AND (? IS NULL OR state = ?) ORDER BY created_at, id",
                (pipeline, pipeline, state, state)).fetchall()
        return [Upload(**dict(row)) for row in rows]
