"""Where the run daemon listens, and how the launcher and the daemon talk (standard library
only: the launcher imports this before deciding whether to import anything else).

A message is a 4-byte big-endian length and a JSON object. The first message of a run
carries the client's stdin, stdout and stderr as SCM_RIGHTS file descriptors.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Any

from assay.pipelines.data_dir import default_data_dir

SOCKET_NAME = "assay.sock"
LOG_NAME = "daemon.log"
_HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 2**20
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, with the terminating NUL


class ProtocolError(OSError):
    """The other side hung up or sent something that is not a message."""


def daemon_dir() -> Path:
    """``<data dir>/daemon``."""
    return default_data_dir() / "daemon"


def socket_path() -> Path:
    return daemon_dir() / SOCKET_NAME


def owned_socket(path: Path) -> bool:
    """Whether ``path`` is a socket owned by this user (never talk to someone else's)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(info.st_mode) and info.st_uid == os.getuid()


def connect(path: Path, timeout: float | None = None) -> socket.socket | None:
    """A connection to the daemon at ``path``, or None where none answers or the socket is
    not this user's."""
    if not owned_socket(path) or len(os.fsencode(path)) > MAX_SOCKET_PATH:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except OSError:
        sock.close()
        return None
    return sock


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    header = _HEADER.pack(len(data))
    if fds:
        socket.send_fds(sock, [header], fds)
    else:
        sock.sendall(header)
    sock.sendall(data)


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """The next message and the descriptors sent with it (the caller owns and closes them)."""
    if max_fds:
        header, fds, _flags, _addr = socket.recv_fds(sock, _HEADER.size, max_fds)
    else:
        header, fds = sock.recv(_HEADER.size), []
    try:
        header += _exactly(sock, _HEADER.size - len(header))
        (size,) = _HEADER.unpack(header)
        if size > MAX_MESSAGE:
            raise ProtocolError(f"a message of {size} bytes")
        message = json.loads(_exactly(sock, size))
        if not isinstance(message, dict):
            raise ProtocolError("a message that is not an object")
    except (ProtocolError, ValueError) as exc:
        for fd in fds:
            os.close(fd)
        raise ProtocolError(str(exc)) from None
    return message, fds


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 2**20))
        if not chunk:
            raise ProtocolError("the other side hung up")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
