"""Errors a user can act on, each mapped to a documented exit code.

They carry one line of text that names the file, line or key at fault; the CLI prints that
line and exits with the code, never a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID_SPEC = 2
EXIT_REJECTED = 3
EXIT_GATE_ABORT = 4


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


class GateAborted(AssayError):
    """A validation gate with the ``abort`` policy (or over its quarantine limit) failed."""

    exit_code = EXIT_GATE_ABORT
