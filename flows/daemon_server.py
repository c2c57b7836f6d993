"""The run daemon: a resident process that has imported pandas, pyarrow, Dask, the step
library, the gates and Prefect's flow engine once, and forks a child per ``assay run``.

``python -m assay.flows.daemon_server DIR`` (``assay daemon start``, or ``assay run``
finding none, launches it detached) takes ``DIR/daemon.lock`` (a second one exits at once),
listens on ``DIR/assay.sock`` (mode 0600, this user's only), then imports. Per request it
checks that assay's code did not change since it started (else it refuses, and exits once
its running children ended, so that the next start loads the new code), forks, and tells
the client the child's pid. A child that has its exit code reports it on a pipe of its own
and goes on in the background (Prefect's last logs and events are sent at exit): the
daemon tells the client then, and logs the child's end when it is reaped (a child that
never reported, killed or crashed, is reported then: its exit code or signal). With
``--idle-exit`` it exits after that long without a run. The daemon starts no thread (a
fork copies only the forking thread, so a lock held by another one would stay held
forever in the child): it checks ``threading.active_count() == 1`` before each fork, and
waits with ``selectors``, woken by SIGCHLD and SIGTERM through a wakeup pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import importlib
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.flows import daemon_protocol as protocol

# What a run imports (about 3 s of CPU in a fresh interpreter); `assay serve`'s forkserver
# preloads the same for its flow runs (`forked_runs`). The second half was found
# by diffing sys.modules around a run against a server in a preloaded process: Prefect's
# parameter serialisation (fastapi), its graph visualisation module, the local cluster's
# HTTP routes and metrics, rich's progress bar. Never cuDF, CuPy or anything that creates a
# CUDA context, which does not survive a fork: a child of a `--backend cudf` run imports
# them itself (untested here: a GPU session must check such a run through the daemon).
PRELOAD = (
    "pandas", "pyarrow", "pyarrow.compute", "pyarrow.dataset", "pyarrow.parquet",
    "dask.dataframe", "distributed", "fsspec", "deltalake",
    "assay.transforms.library", "assay.validation.dask_gate", "assay.pipelines.compose",
    "assay.flows.cli", "assay.flows.summary", "assay.flows.daemon_child",
    "prefect", "prefect.flow_engine", "prefect.task_engine", "prefect.client.orchestration",
    "assay.flows.ingest", "assay.flows.server",
    "fastapi.encoders", "prefect.utilities.visualization", "opentelemetry.metrics",
    "distributed.deploy.local", "distributed.dashboard", "distributed.diagnostics.websocket",
    "distributed.http.health", "distributed.http.statics",
    "distributed.http.scheduler.info", "distributed.http.scheduler.json",
    "distributed.http.scheduler.missing_bokeh", "distributed.http.scheduler.prometheus",
    "distributed.http.worker.prometheus", "tornado.platform.asyncio",
    "anyio._backends._asyncio", "anyio.streams.memory", "anyio.streams.stapled",
    "anyio.streams.tls", "pandas.api.internals", "pandas.core.arrays.arrow._arrow_utils",
    "pydantic.color", "rich.progress", "rich._emoji_codes", "fsspec.implementations.chained",
    "email.policy",
)
_UCRED = struct.Struct("3i")  # pid, uid, gid of SO_PEERCRED
REQUEST_TIMEOUT_SECONDS = 10.0
LOCK_NAME = "daemon.lock"


def log(line: str) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    print(f"{stamp} [{os.getpid()}] {line}", flush=True)


def preload() -> None:
    """Import what runs use, with Prefect quiet on the console as the CLI sets it."""
    from assay.pipelines.lean_dask import import_dask_lean

    import_dask_lean()  # before anything imports Dask: the daemon's children share it
    from assay.flows.cli import prefect_environment

    prefect_environment(verbose=False)
    for name in PRELOAD:
        importlib.import_module(name)


def assay_sources() -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every loaded assay module's source file."""
    found = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and (name == "assay" or name.startswith("assay.")):
            try:
                info = os.stat(path)
            except OSError:
                continue
            found[path] = (info.st_mtime_ns, info.st_size)
    return found


def _changed(sources: dict[str, tuple[int, int]]) -> str | None:
    for path, seen in sources.items():
        try:
            info = os.stat(path)
        except OSError:
            return path
        if (info.st_mtime_ns, info.st_size) != seen:
            return path
    return None


def _well_formed(message: dict[str, Any]) -> bool:
    """The fields a child needs, of the types it needs (see daemon_client.request)."""
    argv, env = message.get("argv"), message.get("env")
    return (isinstance(argv, list) and all(isinstance(a, str) for a in argv)
            and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
            and isinstance(message.get("cwd"), str) and isinstance(message.get("umask"), int))


def bind(path: Path) -> socket.socket:
    """Listen at ``path`` (0600). An existing socket is replaced only when it is this user's
    and no daemon answers on it."""
    if os.path.lexists(path):
        if not protocol.owned_socket(path):
            raise SystemExit(f"error: {path} exists and is not a socket of this user; "
                             "refusing to use it")
        live = protocol.connect(path, timeout=5)
        if live is not None:
            live.close()
            raise SystemExit(f"error: a daemon already answers at {path}")
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(os.fspath(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


class Daemon:
    """The accept loop, the children it forked, and their clients' connections."""

    def __init__(self, folder: Path, listener: socket.socket, lock: int,
                 idle_exit_seconds: float | None = None) -> None:
        self.pid = os.getpid()
        self.lock = lock  # the folder's lock, held till exit (a child closes its copy)
        self.idle_exit_seconds = idle_exit_seconds
        self.last_active = time.monotonic()
        self.path = folder / protocol.SOCKET_NAME
        self.listener: socket.socket | None = listener
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.served = 0
        # child pid -> its client's connection; None once the child reported its exit code
        self.runs: dict[int, socket.socket | None] = {}
        self.ended_pipes: dict[int, int] = {}  # child pid -> where it reports its exit code
        self.sources = assay_sources()
        import assay

        self.version = assay.__version__
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.stopping = False

    def serve(self) -> None:
        """Until stopped (SIGTERM, ``stop``, or stale code) and every child has ended."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        assert self.listener is not None
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        log(f"listening at {self.path}; python {sys.executable}, assay {self.version}")
        while self.listener is not None or self.runs:
            events = self.selector.select(self._idle_timeout())
            if not events and not self.runs and self._idle_timeout() == 0:
                log(f"no run for {self.idle_exit_seconds:g} s; exiting")
                self.stopping = True
            for key, _ in events:
                if key.data == "wake":
                    os.read(self.wake_r, 512)
                elif key.data == "accept":
                    self._accept()
                elif isinstance(key.data, tuple):  # ("ended", pid): a child's exit code
                    self._ended_early(key.data[1])
                else:  # a client hung up before its run ended: end the run as a terminal would
                    self._client_gone(key.data, key.fileobj)
            self._reap()
            if self.stopping:
                self.close_listener()
        log(f"stopped after {self.served} runs")

    def _idle_timeout(self) -> float | None:
        """Seconds until an idle exit is due (0: due now); None while runs go on, or with
        no idle exit."""
        if self.idle_exit_seconds is None or self.runs:
            return None
        return max(0.0, self.last_active + self.idle_exit_seconds - time.monotonic())

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def close_listener(self) -> None:
        if self.listener is None:
            return
        self.selector.unregister(self.listener)
        self.listener.close()
        self.listener = None
        self.path.unlink(missing_ok=True)
        log(f"socket removed; waiting for {len(self.runs)} runs to end")

    def status(self) -> dict[str, Any]:
        return {"pid": self.pid, "socket": str(self.path), "started_at": self.started_at,
                "runs_served": self.served, "running": len(self.runs),
                "python": sys.executable, "version": self.version}

    def _accept(self) -> None:
        assert self.listener is not None
        conn, _ = self.listener.accept()
        self.last_active = time.monotonic()
        conn.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            self._handle(conn)
        except OSError as exc:  # a client that went away or sent garbage: its loss only
            log(f"request failed: {exc}")
            conn.close()

    def _handle(self, conn: socket.socket) -> None:
        if hasattr(socket, "SO_PEERCRED"):
            _pid, uid, _gid = _UCRED.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
            if uid != os.getuid():
                raise protocol.ProtocolError(f"a client of uid {uid}")
        message, fds = protocol.receive(conn, max_fds=3)
        command = message.get("command")
        if command != "run" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            if command == "stop":
                self.stopping = True
            protocol.send(conn, self.status() if command in ("status", "stop")
                          else {"refused": f"unknown command {command!r}"})
            conn.close()
            return
        if reason := self._refusal(message):
            for fd in fds:
                os.close(fd)
            log(f"refused a run: {reason}")
            protocol.send(conn, {"refused": reason})
            conn.close()
            return
        self._fork(conn, message, fds)

    def _refusal(self, message: dict[str, Any]) -> str | None:
        """Why this daemon must not run the request; stale code also stops it."""
        if not _well_formed(message):
            return "a malformed run request"
        if message.get("python") != sys.executable:
            return f"the assay daemon runs {sys.executable}, not {message.get('python')}"
        changed = _changed(self.sources)
        if changed is None and message.get("version") == self.version:
            return None
        self.stopping = True
        return (f"the assay daemon is stale ({changed or 'another assay version'} changed "
                "since it started; it exits, `assay daemon start` starts a new one)")

    def _fork(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        if (threads := threading.active_count()) != 1:  # a fork would copy held locks
            for fd in fds:
                os.close(fd)
            self.stopping = True
            log(f"refused a run: {threads} threads in the daemon; stopping")
            protocol.send(conn, {"refused": "the assay daemon is unhealthy (threads)"})
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        ended_r, ended_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # never returns: the daemon's loop and cleanup are not the child's
            code = 1
            try:
                os.close(ended_r)
                self._in_child(conn)
                from assay.flows.daemon_child import detach, finish, run_command

                log_fd = os.dup(2)  # the daemon's log, before the client's stderr takes fd 2
                code = run_command(message, fds)
                detach(code, ended_w, log_fd)
                code = finish(code)
            except BaseException:  # a bug of ours: on the client's stderr where it is fd 2
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(ended_w)
        self.ended_pipes[pid] = ended_r
        self.selector.register(ended_r, selectors.EVENT_READ, ("ended", pid))
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):  # the child did it first, or has already ended
            os.setpgid(pid, pid)
        self.runs[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)
        log(f"run {pid}: assay {' '.join(message['argv'])} (in {message['cwd']})")
        try:
            protocol.send(conn, {"pid": pid})
        except OSError:
            self._client_gone(pid, conn)

    def _in_child(self, conn: socket.socket) -> None:
        """Drop the daemon's sockets and pipe: the child keeps only the client's fds."""
        self.selector.close()
        for sock in (self.listener, conn, *self.runs.values()):
            if sock is not None:
                sock.close()
        for fd in self.ended_pipes.values():
            os.close(fd)
        os.close(self.wake_r)
        os.close(self.wake_w)
        os.close(self.lock)  # the daemon's copy holds the lock; a child outliving it must not

    def _client_gone(self, pid: int, conn: Any) -> None:
        try:
            if conn.recv(1):
                return  # clients send nothing after the request; ignore it
        except OSError:
            pass
        self.selector.unregister(conn)
        log(f"run {pid}: its client hung up; SIGHUP to the run")
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGHUP)

    def _ended_early(self, pid: int) -> None:
        """The child's exit code, sent before its background work: the client ends with it
        now (and no longer speaks for the run: its hang-up is no SIGHUP)."""
        data = self._take_report(pid)
        conn = self.runs.get(pid)
        if not data or conn is None:  # it ended before reporting: _reap reports how
            return
        code = int(data)
        log(f"run {pid}: exit {code} reported; the run finishes in the background")
        self.runs[pid] = None
        self._release(conn, {"exit": code})

    def _take_report(self, pid: int) -> bytes:
        """What the child wrote on its pipe (empty: nothing, or already taken), the pipe
        closed. Never blocks: called once it is readable, or once the child has ended."""
        pipe = self.ended_pipes.pop(pid, None)
        if pipe is None:
            return b""
        self.selector.unregister(pipe)
        try:
            return os.read(pipe, 64)
        finally:
            os.close(pipe)

    def _release(self, conn: socket.socket, ended: dict[str, int]) -> None:
        """Tell the client how its run ended, and let go of its connection."""
        with contextlib.suppress(OSError):
            protocol.send(conn, ended)
        if conn in (key.fileobj for key in self.selector.get_map().values()):
            self.selector.unregister(conn)
        conn.close()

    def _reap(self) -> None:
        for pid in list(self.runs):
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:  # not ours to wait for any more: report a failure
                done, status, usage = pid, 1 << 8, None
            if not done:
                continue
            conn = self.runs.pop(pid)
            self.last_active = time.monotonic()
            code = os.waitstatus_to_exitcode(status)
            self.served += 1
            cpu = (f", CPU {usage.ru_utime:.2f} s user {usage.ru_stime:.2f} s sys, "
                   f"{usage.ru_minflt} page faults" if usage else "")
            log(f"run {pid}: " + (f"exit {code}" if code >= 0 else f"signal {-code}") + cpu)
            self._take_report(pid)  # a report not yet read: how it ended says more
            if conn is not None:
                self._release(conn, {"exit": code} if code >= 0 else {"signal": -code})


def hold_lock(folder: Path) -> int | None:
    """An fd holding the folder's lock for this process's life; None where another daemon
    holds it (it is starting or serving)."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def main(argv: list[str] | None = None) -> int:
    """``python -m assay.flows.daemon_server DIR [--idle-exit SECONDS]``: take the folder's
    lock, listen, preload, serve. Clients that connect while it preloads wait for it."""
    parser = argparse.ArgumentParser(prog="python -m assay.flows.daemon_server")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                        help="exit after this long with no run (default: never)")
    args = parser.parse_args(argv)
    lock = hold_lock(args.folder)
    if lock is None:
        log(f"another assay daemon holds {args.folder / LOCK_NAME}; exiting")
        return 3
    listener = bind(args.folder / protocol.SOCKET_NAME)
    started = time.perf_counter()
    preload()
    # the imported modules' objects go to the collector's permanent generation: a child's
    # collections then never walk them (each full walk cost ~0.5 s of CPU per run, and
    # the copies of the pages it touched)
    gc.collect()
    gc.freeze()
    log(f"preloaded in {time.perf_counter() - started:.2f} s")
    daemon = Daemon(args.folder, listener, lock, args.idle_exit)
    try:
        daemon.serve()
    finally:
        daemon.close_listener()
    return 0


if __name__ == "__main__":
    sys.exit(main())
