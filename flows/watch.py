"""``assay watch``: upload intake from a folder or an object-store prefix (any fsspec URL).

A file is picked up once it is complete: a name that marks a file still being written
(starting with ``.`` or ``_``, or ending in ``.tmp``, ``.part``, ``.partial``) is ignored
until it is renamed, and a file's size and modification time must stay unchanged for the
settle time. It is then copied into the landing zone (hashed, fsynced), the source is
removed, and ingestion is triggered as for an HTTP upload (``flows/intake.py``). A file
the pipeline refuses (too large, a format it does not take) stays where it is.
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

from assay.flows.intake import Intake, IntakeRefused, Received, upload_suffix
from assay.pipelines.registry import Pipeline

log = logging.getLogger("assay.watch")
_WRITING_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
_CHUNK = 1 << 20


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
        return [r for path in self.complete_files() if (r := self.take(path)) is not None]

    def run(self, interval: float = 1.0, on_upload: Callable[[Received], None] | None = None,
            stop: Callable[[], bool] = lambda: False) -> None:
        """Retry pending triggers, then poll until ``stop()`` (or an interrupt)."""
        asyncio.run(self.intake.retry_pending())
        while not stop():
            for received in self.poll():
                if on_upload:
                    on_upload(received)
            time.sleep(interval)
