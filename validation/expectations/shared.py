"""Work that several expectations of a gate need from the same partition, done once.

``GateEvaluator.evaluate`` opens a scope per partition; inside it, ``shared(key, compute)``
returns what was first computed for ``key`` (a column's value counts, its non-null values).
Outside a scope it just computes. A ContextVar keeps apart the scopes of partitions that
worker threads evaluate at the same time. Shared values are read, never modified.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_SCOPE: ContextVar[dict[Hashable, Any] | None] = ContextVar("assay_partition", default=None)


@contextmanager
def partition_scope() -> Iterator[None]:
    """Share computations between the expectations evaluated on one partition."""
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def shared(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per key and partition scope."""
    scope = _SCOPE.get()
    if scope is None:
        return compute()
    if key not in scope:
        scope[key] = compute()
    return scope[key]
