"""Landing an upload, once: what ``assay api`` and ``assay watch`` share.

An upload is streamed into a temporary file in the landing zone
(``<data-dir>/landing/<pipeline>/``) while it is hashed and its size checked, fsynced, then
renamed to ``<upload-id>.<format>[.<compression>]``: a client's file name lends the upload
its extension and a display name, never a path. The ledger then records it by content
hash (the same bytes again are acknowledged, not landed twice), and an
``assay.upload.received`` Prefect event asks the pipeline's deployment to ingest it. When no
server takes the event, the upload is kept and marked ``pending``; ``retry_pending`` sends
those again when an intake starts, and ``retry`` sends one again on request (reopening
it when it was rejected). Prefect's automation creates the flow run from the event
on its own time; an intake that has someone to answer (``assay api``) looks that run up for
a few seconds, so the answer can name it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fsspec.core import split_protocol
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events import Event
from prefect.events.clients import PrefectEventsClient
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from websockets.exceptions import WebSocketException

from assay.pipelines.errors import EXIT_INVALID_SPEC, AssayError
from assay.pipelines.ledger import Ledger, Upload, content_sha256, landing_folder
from assay.pipelines.owners import STALE_AFTER, owner_gone, this_process
from assay.pipelines.registry import Pipeline
from assay.pipelines.sources.discover import _suffixes

EVENT = "assay.upload.received"
_INCOMING, _PART = ".incoming-", ".part"  # a landing's temporary file name
_EXTENSIONS = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
_COMPRESSED = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2", "xz": ".xz"}

log = logging.getLogger(__name__)


class IntakeRefused(Exception):
    """The upload is refused before it is kept (too large, a format the pipeline does not
    take); ``status`` is the HTTP status that says so."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def upload_suffix(pipeline: Pipeline, name: str | None, fmt: str | None) -> str:
    """The landed file's extension: the declared ``fmt``, else the one ``name`` ends with
    (with its compression), checked against the pipeline's ``intake.formats``."""
    detected, compression = _suffixes(name or "")
    chosen = fmt or detected
    if chosen is None:
        raise IntakeRefused(f"{name or 'upload'}: cannot tell the format; give a file name "
                            "ending in .csv, .jsonl or .parquet, or format=csv|jsonl|parquet",
                            415)
    allowed = pipeline.spec.intake.formats
    if chosen not in allowed:
        raise IntakeRefused(f"pipeline {pipeline.name!r} takes {', '.join(allowed)} uploads, "
                            f"not {chosen}", 415)
    return _EXTENSIONS[chosen] + _COMPRESSED.get(compression or "", "")


class Landing:
    """One upload being written into the landing zone: a temporary file, hashed and
    counted as it grows; over ``limit`` bytes it is removed and refused (413). The file's
    name carries its process (``.incoming-<id>-<pid>@<host>.part``), so the one a killed
    intake leaves can be told from one being written (``sweep_abandoned``)."""

    def __init__(self, folder: Path, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.limit = limit
        host, _, pid = this_process().rpartition(":")
        self.temp = folder / f"{_INCOMING}{uuid.uuid4().hex}-{pid}@{host}{_PART}"
        self.size = 0
        self._digest = hashlib.sha256()
        self._handle = open(self.temp, "xb")  # noqa: SIM115 - closed by finish or discard

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise IntakeRefused(f"upload larger than the pipeline's limit of "
                                f"{self.limit:,} bytes", 413)
        self._digest.update(chunk)
        self._handle.write(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def finish(self) -> None:
        """Make the bytes durable before anyone is told they are kept."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()
        self.temp.unlink(missing_ok=True)


def sweep_abandoned(folder: Path) -> list[Path]:
    """Remove the temporary files of uploads whose intake died while writing them (a
    killed ``assay api`` or ``assay watch``: a container's stop, the OOM killer), which
    nothing else would ever remove; return them. One being written, by a live process here
    or recently by another host's, stays. A name from before the names carried their
    process counts as abandoned once unchanged for ``STALE_AFTER``."""
    removed = []
    for path in folder.glob(f"{_INCOMING}*{_PART}"):
        try:
            changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:  # finished meanwhile
            continue
        owner = _owner_of(path.name)
        gone = (datetime.now(UTC) - changed > STALE_AFTER if owner is None
                else owner_gone(owner, changed.isoformat()))
        if gone:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _owner_of(name: str) -> str | None:
    """``host:pid`` from a landing's temporary file name; None for a name without one."""
    _, _, tail = name.removeprefix(_INCOMING).removesuffix(_PART).partition("-")
    pid, _, host = tail.partition("@")
    return f"{host}:{pid}" if pid.isdigit() and host else None


@dataclass(frozen=True)
class Received:
    upload: Upload
    duplicate: bool  # these bytes were already an upload of this pipeline
    event_id: str | None = None  # the trigger sent, when one was
    flow_run_id: str | None = None  # the run the trigger started, when found in time
    notice: str | None = None  # why ingestion is pending, when it is


class Intake:
    """The landing zone and the ledger of one data directory."""

    def __init__(self, data_dir: Path, flow_run_wait: float = 0.0) -> None:
        self.data_dir = data_dir
        self.ledger = Ledger.in_data_dir(data_dir)
        self.flow_run_wait = flow_run_wait  # seconds to look for the triggered run
        self._swept: set[Path] = set()  # landing folders cleared of abandoned uploads

    def open(self, pipeline: Pipeline) -> Landing:
        """A new landing for ``pipeline``'s upload; the first for a pipeline first removes
        what killed intakes left in its folder."""
        folder = landing_folder(self.data_dir, pipeline.name)
        if folder not in self._swept:
            self._swept.add(folder)
            for path in sweep_abandoned(folder) if folder.exists() else []:
                log.info("removed %s, left by an intake that died while landing it", path)
        return Landing(folder, pipeline.spec.intake.max_bytes)

    def keep(self, pipeline: Pipeline, landing: Landing, suffix: str,
             name: str | None) -> tuple[Upload, bool]:
        """Land a finished upload under its id and record it; ``(upload, new)``. The same
        bytes already in the ledger are acknowledged and the copy removed."""
        landing.finish()
        known = self.ledger.find(pipeline.name, landing.sha256)
        if known is not None:
            landing.temp.unlink()
            return known, False
        upload_id = uuid.uuid4().hex
        final = landing.folder / f"{upload_id}{suffix}"
        os.rename(landing.temp, final)
        _fsync_dir(landing.folder)
        upload, new = self.ledger.register(pipeline.name, landing.sha256, landing.size,
                                           str(final), name=(name or "")[:255] or None,
                                           upload_id=upload_id)
        if not new:  # the same bytes landed concurrently: keep the first
            final.unlink()
        return upload, new

    async def trigger(self, upload: Upload, new: bool) -> Received:
        """Ask for ingestion of a new upload, or again of one no run finished (pending,
        failed, or held by a crashed run); acknowledge one that is running or done."""
        if not new and not upload.needs_run:
            return Received(upload, duplicate=True)
        try:
            event_id = await emit_received(upload)
        except _UNREACHABLE as exc:
            notice = f"ingestion pending: {_unreachable(exc)}; the upload is kept and sent " \
                     "again when an intake starts"
            self.ledger.mark(upload.id, "pending", reason=notice)
            return Received(self.ledger.get(upload.id) or upload, not new, notice=notice)
        self.ledger.mark(upload.id, "received")
        flow_run_id = await triggered_flow_run(upload, self.flow_run_wait)
        return Received(self.ledger.get(upload.id) or upload, not new, event_id=event_id,
                        flow_run_id=flow_run_id)

    async def retry(self, upload_id: str) -> Received:
        """Ingest an upload anew: a rejected or failed one (its spec since fixed) is
        reopened, then its trigger is sent as for any upload no run finished. Refused
        (``NotRetryable``) for an unknown upload, one published or being ingested, and one
        whose landed bytes are gone or changed."""
        upload = self.ledger.get(upload_id)
        if upload is None:
            raise NotRetryable(f"no upload {upload_id!r} in the ledger at {self.ledger.path}")
        if upload.state in ("rejected", "failed"):
            _check_bytes(upload)
        upload, _ = self.ledger.reopen(upload_id)
        if upload is None or not upload.needs_run:
            state = upload.state if upload else "gone"
            done = f" as version {upload.version}" if upload and upload.version else ""
            raise NotRetryable(f"upload {upload_id} is {state}{done}: nothing to retry")
        return await self.trigger(upload, new=False)

    async def retry_pending(self) -> list[Received]:
        """Send the triggers of uploads left pending (no server was reachable)."""
        pending = [u for u in self.ledger.outstanding() if u.state == "pending"]
        return [await self.trigger(u, new=False) for u in pending]


class NotRetryable(AssayError):
    """An upload that cannot be retried; the line says why."""

    exit_code = EXIT_INVALID_SPEC


def _check_bytes(upload: Upload) -> None:
    """A local upload's file must still hold the bytes the ledger recorded (a remote one is
    read by its run, with the spec's credentials)."""
    if split_protocol(upload.uri)[0] not in (None, "file", "local"):
        return
    try:
        digest = content_sha256(upload.uri)
    except OSError as exc:
        raise NotRetryable(f"upload {upload.id}: {upload.uri} cannot be read "
                           f"({exc.strerror or exc}); nothing to retry") from exc
    if digest != upload.sha256:
        raise NotRetryable(f"upload {upload.id}: {upload.uri} no longer holds the uploaded "
                           "bytes; send the file again as a new upload")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# How "no Prefect server to trigger" fails: httpx's errors (the health check; a malformed
# PREFECT_API_URL is httpx's InvalidURL), the events websocket's (OSError, TimeoutError,
# websockets' errors), our ConnectionError when no URL is set and PermissionError for a
# refused events handshake. A bug (a TypeError building the event) is not among them.
_UNREACHABLE = (OSError, httpx.HTTPError, httpx.InvalidURL, WebSocketException)


def _unreachable(exc: Exception) -> str:
    api = PREFECT_API_URL.value()
    if not api:
        return "PREFECT_API_URL is not set, so there is no Prefect server to trigger"
    return f"no Prefect server reachable at {api} ({type(exc).__name__}: {exc})"


def event_for(upload: Upload) -> dict[str, Any]:
    """The event's resource and payload (the deployment trigger matches on them)."""
    return {
        "event": EVENT,
        "resource": {"prefect.resource.id": f"assay.upload.{upload.id}",
                     "prefect.resource.name": upload.name or upload.id,
                     "assay.pipeline": upload.pipeline},
        "payload": {"pipeline": upload.pipeline, "upload_id": upload.id, "uri": upload.uri,
                    "sha256": upload.sha256},
    }


async def emit_received(upload: Upload) -> str:
    """Send the trigger and wait until the server has it; raise when no server is there."""
    if not PREFECT_API_URL.value():
        raise ConnectionError("PREFECT_API_URL is not set")
    async with get_client() as client:
        failure = await client.api_healthcheck()
    if failure is not None:
        raise failure
    event = Event(**event_for(upload))
    try:
        async with PrefectEventsClient(reconnection_attempts=2) as events:
            await events.emit(event)
    except Exception as exc:
        if type(exc) is Exception:  # Prefect's refused events auth handshake: a bare one
            raise PermissionError(str(exc)) from exc
        raise
    return str(event.id)


async def triggered_flow_run(upload: Upload, wait: float) -> str | None:
    """The id of the flow run that the upload trigger of ``ingest/<pipeline>`` started for
    ``upload`` (its ``upload_id`` parameter), looked up for at most ``wait`` seconds; None
    when no such deployment is served or the run is not there yet."""
    if wait <= 0:
        return None
    deadline = time.monotonic() + wait
    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(f"ingest/{upload.pipeline}")
        except ObjectNotFound:
            return None
        by_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        while True:
            runs = await client.read_flow_runs(deployment_filter=by_deployment, limit=200,
                                               sort=FlowRunSort.EXPECTED_START_TIME_DESC)
            found = next((r for r in runs if r.parameters.get("upload_id") == upload.id), None)
            if found is not None:
                return str(found.id)
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.2)
