"""Values derived from a column, shared by the steps of one partition's chain.

Several steps derive the same arrays from one column (the Gopher filters each tokenize the
same text; C4 needs those tokens too). Inside ``chain_scope`` (``pipelines.chain`` opens one
per partition) a value one step derives is handed to the next for as long as the column's
Arrow data is the same object. The key is the identity of its buffers, and the memo holds
the data itself, so those buffers can neither be freed nor have their addresses reused
while the entry lives. A step that rewrites the column (C4's line filter, pii's redaction)
makes new buffers, hence a new key: nothing derived from the old text is ever read for the
new. One column is kept at a time (a new key evicts the last), which bounds the memory to
one column's derived values. Outside a scope (a step applied on its own) nothing is kept.

A cuDF column reaches the host as a new Arrow array at every step, so on a GPU nothing is
shared (a GPU session must check whether the host copy makes that worth keying differently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import pyarrow as pa

T = TypeVar("T")
Key = tuple[Any, ...]


class _Memo:
    """The one column of a scope: its key, its data (held) and what was derived from it."""

    def __init__(self) -> None:
        self.key: Key | None = None
        self.held: Any = None
        self.values: dict[str, Any] = {}


_SCOPE: ContextVar[_Memo | None] = ContextVar("assay_chain_memo", default=None)


@contextmanager
def chain_scope() -> Iterator[None]:
    """Share derived values between the steps run inside (one partition's chain)."""
    token = _SCOPE.set(_Memo())
    try:
        yield
    finally:
        _SCOPE.reset(token)


def identity(data: pa.Array | pa.ChunkedArray) -> Key:
    """What makes two Arrow arrays the same data: type, slice and buffer addresses."""
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    return (str(data.type), *((chunk.offset, len(chunk), *(
        (buffer.address, buffer.size) if buffer is not None else None
        for buffer in chunk.buffers())) for chunk in chunks))


def derived(data: pa.Array | pa.ChunkedArray, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned for the same ``data`` and ``name`` earlier in
    this chain. ``compute`` must depend on ``data`` alone, and callers must not modify
    what it returns."""
    memo = _SCOPE.get()
    if memo is None:
        return compute()
    key = identity(data)
    if key != memo.key:
        memo.key, memo.held, memo.values = key, data, {}
    if name not in memo.values:
        memo.values[name] = compute()
    return memo.values[name]
