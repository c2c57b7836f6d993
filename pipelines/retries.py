"""Which failures of a run's phases are worth another try, and the retries themselves.

A run that meets storage trouble that may pass (a dropped connection, an object store's
5xx outlasting the storage library's own retries) tries its phase again, whether it runs as
a Prefect flow (the tasks' retries, which the UI shows) or without Prefect (``assay run``
with no server configured, ``assay.run``: tenacity, with the same counts). A verdict on the
spec or the data, a missing file, a full disk or a bug is never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from assay.pipelines.errors import AssayError, TransientStorageError

IO_RETRIES = 2
IO_RETRY_DELAY_SECONDS = 2.0

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(exc: BaseException) -> bool:
    """A failure that may pass: a transient storage error, or an ``OSError`` no layer
    explained. Errors assay explains are verdicts (the data, the spec, a permanent storage
    failure), so they are final."""
    if isinstance(exc, TransientStorageError):
        return True
    if isinstance(exc, AssayError):
        return False
    return isinstance(exc, OSError)


def with_io_retries(phase: Callable[P, R]) -> Callable[P, R]:
    """``phase``, tried up to ``1 + IO_RETRIES`` times, ``IO_RETRY_DELAY_SECONDS`` apart
    (both read at each call, so a test can shorten the wait), while it fails with a
    transient error; the last error is raised as it is."""

    @wraps(phase)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        attempts = Retrying(
            stop=stop_after_attempt(1 + IO_RETRIES),
            wait=wait_fixed(IO_RETRY_DELAY_SECONDS),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        return attempts(phase, *args, **kwargs)

    return retried
