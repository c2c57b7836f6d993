"""Which process owns a claim (an upload being ingested, a run's staging folder), and
whether that process is gone, so its work may be taken over or cleaned.

An owner is ``host:pid``. On this host a process that no longer exists is gone; a claim
from another host is trusted for ``STALE_AFTER``, since its process cannot be asked.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

STALE_AFTER = timedelta(hours=12)


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str | None, since: str) -> bool:
    """Whether ``owner``'s process is known dead (same host), or its claim, made at
    ``since`` (ISO 8601), is stale."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return datetime.now(UTC) - datetime.fromisoformat(since) > STALE_AFTER
