"""Which storage failures the flow retries, and which end a run at once."""

from __future__ import annotations

import errno

import pytest
from assay.pipelines.errors import (
    EXIT_STORAGE,
    StorageError,
    TransientStorageError,
    storage_failure,
)


@pytest.mark.parametrize(("error", "transient", "says"), [
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), True, "reset"),
    (TimeoutError("read timed out"), True, "timed out"),
    (OSError("503 Slow Down"), True, "Slow Down"),
    (RuntimeError("botocore: endpoint connection error"), True, "endpoint"),
    (OSError(errno.ENOSPC, "No space left on device"), False, "out of space"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), False, "out of space"),
    (OSError(errno.EROFS, "Read-only file system"), False, "Read-only"),
    (FileNotFoundError(errno.ENOENT, "No such file"), False, "No such file"),
    (PermissionError(errno.EACCES, "Access Denied"), False, "Access Denied"),
])
def test_storage_failures_are_told_apart(error: BaseException, transient: bool, says: str
                                         ) -> None:
    failure = storage_failure("s3://bucket/in/a.csv", "read", error)
    assert isinstance(failure, StorageError)
    assert isinstance(failure, TransientStorageError) == transient
    assert failure.exit_code == EXIT_STORAGE
    assert str(failure).startswith("s3://bucket/in/a.csv: read failed")
    assert says in str(failure) and "\n" not in str(failure)
