"""Which rows an expectation judges: the upload's, or the dataset's after the append.

Row-level expectations judge the rows being added, always: they route rows, and a row
already published cannot be quarantined. An aggregate takes its own ``meta: {"scope": ...}``
(GE's free-form ``meta``, so the suite stays a GE suite), else its gate's ``scope``, which
defaults to ``dataset``: a table-level expectation is a contract on the table readers get,
and in an overwrite run the dataset is the upload, so nothing changes there. At dataset
scope the gate merges the published version's kept statistics (``kept``) with the run's.
"""

from __future__ import annotations

from typing import Literal, get_args

from assay.validation.expectations import Expectation
from assay.validation.suite import SuiteError

Scope = Literal["upload", "dataset"]
SCOPES: tuple[str, ...] = get_args(Scope)
META_KEY = "scope"


def scope_of(expectation: Expectation, default: Scope) -> Scope:
    """The expectation's scope; SuiteError (one line) for a bad or refused one."""
    asked = expectation.meta.get(META_KEY)
    if asked is not None and asked not in SCOPES:
        raise SuiteError(f"{expectation.label}: meta.scope must be one of {list(SCOPES)}, "
                         f"got {asked!r}")
    if expectation.row_level:
        if asked == "dataset":
            raise SuiteError(f"{expectation.label}: scope dataset is refused for a row-level "
                             "expectation, which judges the rows being added (uniqueness "
                             "across the dataset is a dedup step with scope: dataset)")
        return "upload"
    return asked or default


def scopes_of(expectations: tuple[Expectation, ...], default: Scope) -> tuple[Scope, ...]:
    return tuple(scope_of(expectation, default) for expectation in expectations)
