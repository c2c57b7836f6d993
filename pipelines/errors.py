"""Errors a user can act on, each mapped to a documented exit code.

They carry one line of text that names the file, line or key at fault; the CLI prints that
line and exits with the code, never a traceback. One raised over a library's error keeps it
as its cause (``raise ... from exc``): ``assay ... --verbose`` prints the chain.
"""

from __future__ import annotations

import errno
import http.client
import sys

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID_SPEC = 2
EXIT_REJECTED = 3
EXIT_GATE_ABORT = 4
EXIT_STORAGE = 5
EXIT_ALREADY_PUBLISHED = 6


class AssayError(Exception):
    """Base of every error we expect and explain."""

    exit_code = EXIT_INTERNAL

    def __reduce__(self):  # keep subclasses picklable across Dask workers
        return (type(self), self.args)


class SpecError(AssayError):
    """The pipeline spec is invalid; the message names the key."""

    exit_code = EXIT_INVALID_SPEC


class UploadRejected(AssayError):
    """An upload cannot be read at all; the message names the file."""

    exit_code = EXIT_REJECTED


class DatasetError(AssayError):
    """A dataset path that cannot be read or looked after as asked: missing, not a Delta
    table, the old layout (version folders), or without the version or split asked for;
    the line names it."""

    exit_code = EXIT_INVALID_SPEC


class GateAborted(AssayError):
    """A validation gate with the ``abort`` policy (or over its quarantine limit) failed."""

    exit_code = EXIT_GATE_ABORT


class AlreadyPublished(AssayError):
    """An appending run was given an upload the dataset's table already holds (its
    ``version``): appending it again would add its rows twice, so nothing is published."""

    exit_code = EXIT_ALREADY_PUBLISHED

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message, version)
        self.version = version

    def __str__(self) -> str:
        return str(self.args[0])


class StorageError(AssayError):
    """Storage failed under an input or the sink (a full disk, a vanished file, access
    denied, or a transient failure that outlasted the retries): not a verdict on the data,
    so an upload that met it is retried by the next trigger, not rejected."""

    exit_code = EXIT_STORAGE


class Unavailable(AssayError):
    """A service assay needs is not there in time (a Prefect server that does not start or
    answer): not the spec's or the data's fault, and not a bug in assay. Exit 1, in one
    line; ``--verbose`` adds the traceback."""


class TransientStorageError(StorageError):
    """A storage failure that may pass (a dropped connection, an object store's 5xx after
    the storage library's own retries): the flow retries the task that met it."""


class DatasetCorrupt(AssayError):
    """A published file is missing, or its bytes differ from the sha256 its run's manifest
    recorded: what a training job would read is not what assay published."""

    exit_code = EXIT_STORAGE


# Base errors of the network libraries under fsspec's object-store filesystems that reach a
# caller untranslated: s3fs raises botocore's connection and response-parsing errors,
# aiohttp's payload errors and urllib3's IncompleteRead as they are once its retries are
# spent; gcsfs its HttpError, ChecksumError and google-auth's errors; adlfs azure-core's.
# Named by module, looked up only when the module is loaded: a library never imported cannot
# have raised.
_LIBRARY_STORAGE_ERRORS = (
    ("botocore.exceptions", "BotoCoreError"),
    ("botocore.parsers", "ResponseParserError"),
    ("aiohttp", "ClientError"),
    ("urllib3.exceptions", "HTTPError"),
    ("gcsfs.retry", "HttpError"),
    ("gcsfs.retry", "ChecksumError"),
    ("google.auth.exceptions", "GoogleAuthError"),
    ("azure.core.exceptions", "AzureError"),
)


def storage_errors() -> tuple[type[Exception], ...]:
    """What a storage call raises when the storage fails: OSError (local disks, and what
    fsspec's filesystems translate their errors to: FileNotFoundError, PermissionError,
    timeouts), ``http.client.HTTPException`` and the libraries' base errors above. Anything
    else (a TypeError, a MemoryError) is not the storage's and propagates as it is."""
    found: list[type[Exception]] = [OSError, http.client.HTTPException]
    for module, name in _LIBRARY_STORAGE_ERRORS:
        error = getattr(sys.modules.get(module), name, None)
        if isinstance(error, type) and issubclass(error, Exception):
            found.append(error)
    return tuple(found)


_OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def storage_failure(url: str, action: str, exc: BaseException) -> StorageError:
    """One line naming ``url`` and what failed, as a permanent or a transient StorageError."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in _OUT_OF_SPACE:
        return StorageError(f"{url}: {action} failed, out of space ({detail})")
    if isinstance(exc, _PERMANENT) or (isinstance(exc, OSError) and exc.errno == errno.EROFS):
        return StorageError(f"{url}: {action} failed ({detail})")
    return TransientStorageError(f"{url}: {action} failed ({detail})")
