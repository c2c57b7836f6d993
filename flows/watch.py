"""``assay watch``: upload intake from a folder or an object-store prefix (any fsspec URL).

A file is picked up once it is complete: a name that marks a file still being written
(starting with ``.`` or ``_``, or ending in ``.tmp``, ``.part``, ``.partial``) is ignored
until it is renamed, and a file's size and modification time must stay unchanged for the
settle time. It is then copied into the landing zone (hashed, fsynced), the source is
removed, and ingestion is triggered as for an HTTP upload (``flows/intake.py``). A file
the pipeline refuses (too large, a format it does not take) stays where it is. The watcher
follows each upload it sent until its run settles it, so its operator sees every upload's
final state (published as version N, rejected or failed with the reason).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from prefect.settings import PREFECT_API_URL

from assay.flows.intake import Intake, IntakeRefused, Received, upload_suffix
from assay.pipelines.errors import storage_errors
from assay.pipelines.ledger import DONE, Upload, landing_folder
from assay.pipelines.registry import Pipeline

log = logging.getLogger("assay.watch")
_WRITING_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
_CHUNK = 1 << 20
_FINAL = (*DONE, "failed")  # what a run leaves an upload in


def being_written(name: str) -> bool:
    """Whether a file's name says a writer has not finished (renamed) it yet."""
    return name.startswith((".", "_")) or name.lower().endswith(_WRITING_SUFFIXES)


@dataclass
class Watcher:
    """Polls ``source`` and lands every complete file as an upload of ``pipeline``."""

    source: str
    pipeline: Pipeline
    intake: Intake
    settle: float = 5.0
    storage_options: dict[str, Any] = field(default_factory=dict)
    _seen: dict[str, tuple[Any, Any, float]] = field(default_factory=dict)
    _refused: set[str] = field(default_factory=set)
    _following: set[str] = field(default_factory=set)  # ids sent, not yet settled

    def __post_init__(self) -> None:
        self.fs: fsspec.AbstractFileSystem
        self.fs, self.root = url_to_fs(self.source, **self.storage_options)

    def complete_files(self) -> list[str]:
        """Files whose size and modification time have not changed for ``settle`` s."""
        self.fs.invalidate_cache()
        now = time.monotonic()
        listing = self.fs.find(self.root, detail=True)
        ready = []
        for path, info in sorted(listing.items()):
            if info.get("type") != "file" or path in self._refused \
                    or being_written(PurePosixPath(path).name):
                continue
            stamp = (info.get("size"), info.get("mtime") or info.get("LastModified"))
            first = self._seen.get(path)
            if first is None or first[:2] != stamp:
                self._seen[path] = (*stamp, now)
            elif now - first[2] >= self.settle:
                ready.append(path)
        self._seen = {p: v for p, v in self._seen.items() if p in listing}
        return ready

    def take(self, path: str) -> Received | None:
        """Land one file and remove it from the source; None when the pipeline refuses it."""
        name = PurePosixPath(path).name
        try:
            suffix = upload_suffix(self.pipeline, name, None)
            landing = self.intake.open(self.pipeline)
            try:
                with self.fs.open(path, "rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        landing.write(chunk)
            except BaseException:
                landing.discard()
                raise
        except IntakeRefused as exc:
            log.warning("%s: refused, left in place: %s", path, exc)
            self._refused.add(path)
            return None
        upload, new = self.intake.keep(self.pipeline, landing, suffix, name)
        self.fs.rm(path)  # only once the landed copy is durable and in the ledger
        self._seen.pop(path, None)
        return asyncio.run(self.intake.trigger(upload, new))

    def poll(self) -> list[Received]:
        """Take every complete file; one the storage fails to hand over is left in place
        (with a warning) for the next poll, and the others are taken."""
        sent = []
        for path in self.complete_files():
            try:
                received = self.take(path)
            except storage_errors() as exc:
                log.warning("%s: not taken this time (%s: %s); tried again at the next poll",
                            path, type(exc).__name__, exc)
                continue
            if received is not None:
                sent.append(received)
        return self._follow(sent)

    def _follow(self, sent: list[Received]) -> list[Received]:
        self._following |= {r.upload.id for r in sent if r.upload.state not in _FINAL}
        return sent

    def settled(self) -> list[Upload]:
        """The uploads this watcher sent that a run has settled since the last call."""
        uploads = [u for u in map(self.intake.ledger.get, sorted(self._following)) if u]
        done = [u for u in uploads if u.state in _FINAL]
        self._following -= {u.id for u in done}
        return done

    def run(self, interval: float = 1.0,
            on_upload: Callable[[Received], None] = lambda received: None,
            on_settled: Callable[[Upload], None] = lambda upload: None,
            stop: Callable[[], bool] = lambda: False) -> None:
        """Retry pending triggers, then poll until ``stop()`` (or an interrupt); each upload
        sent goes to ``on_upload``, and again to ``on_settled`` once its run settled it."""
        for received in self._follow(asyncio.run(self.intake.retry_pending())):
            on_upload(received)
        while not stop():
            for received in self.poll():
                on_upload(received)
            for upload in self.settled():
                on_settled(upload)
            time.sleep(interval)

    def describe(self, interval: float) -> str:
        """What the watcher does, for its first line."""
        api = PREFECT_API_URL.value()
        trigger = f"ingestion triggered at {api}" if api else \
            "PREFECT_API_URL is not set: uploads wait as pending"
        landing = landing_folder(self.intake.data_dir, self.pipeline.name)
        return (f"watching {self.source} for uploads of pipeline {self.pipeline.name} "
                f"(complete once unchanged for {self.settle:g} s, polled every {interval:g} "
                f"s), landed in {landing}; {trigger}")


def received_line(received: Received) -> str:
    """One upload sent: its id, name and state, and why ingestion waits when it does."""
    upload = received.upload
    note = " (already received)" if received.duplicate else ""
    return (f"upload {upload.id} ({upload.name}): {upload.state}{note}"
            + (f": {received.notice}" if received.notice else ""))


def settled_line(upload: Upload) -> str:
    """One upload's final state: the version it was published as, or the reason."""
    outcome = f"published as version {upload.version}" if upload.state == "published" \
        else f"{upload.state}: {upload.reason}"
    return f"upload {upload.id} ({upload.name}): {outcome}"
