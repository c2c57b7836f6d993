"""Launch a run daemon for this data directory as a detached process (standard library
only: the launcher starts one after a run that found none, ``assay daemon start`` on
request).

The daemon itself takes the folder's lock before anything else, so of two launched at
once one serves and the other exits at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assay.flows import daemon_protocol as protocol


class SpawnError(Exception):
    """Why no daemon can be launched for this data directory (one line)."""


def _private_folder(folder: Path) -> None:
    """``folder`` exists, is this user's, and only this user can enter it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise SpawnError(f"{folder} belongs to another user (uid {info.st_uid}); refusing it")
    if info.st_mode & 0o077:
        folder.chmod(0o700)


def spawn(idle_exit_seconds: float | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    """Launch ``python -m assay.flows.daemon_server`` for ``protocol.daemon_dir()`` in a
    session of its own, logging to its ``daemon.log``; the process and the log's path. With
    ``idle_exit_seconds`` it exits after that long without a run."""
    folder = protocol.daemon_dir()
    path = folder / protocol.SOCKET_NAME
    if len(os.fsencode(path)) > protocol.MAX_SOCKET_PATH:
        raise SpawnError(f"{path}: too long for a Unix socket ({protocol.MAX_SOCKET_PATH} "
                         "bytes at most); set ASSAY_DATA_DIR to a shorter folder")
    _private_folder(folder)
    log_path = folder / protocol.LOG_NAME
    idle = [] if idle_exit_seconds is None else ["--idle-exit", f"{idle_exit_seconds:g}"]
    with open(log_path, "ab") as log:
        # -P: the folder it starts in is not on its sys.path (a checkout's `flows/` there
        # would shadow nothing, but the runs' imports should not depend on where it started)
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", "assay.flows.daemon_server", str(folder), *idle],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            start_new_session=True)
    return child, log_path
