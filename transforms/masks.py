"""Null-safe boolean masks and per-row reasons, built only from operations pandas and cuDF
share, so removal logic never depends on how a backend represents a missing boolean."""

from __future__ import annotations

from collections.abc import Sequence

from transforms import frame as fr
from transforms.base import REASON_SEP
from transforms.frame import Column


def as_mask(values: Column) -> Column:
    """A plain bool column: nullable booleans become False where missing."""
    return values.fillna(False).astype(bool)


def present(values: Column) -> Column:
    return as_mask(values.notna())


def reasons(index_like: Column, parts: Sequence[tuple[Column, str]]) -> Column:
    """One string per row joining the texts whose mask is True there ('' elsewhere)."""
    empty = fr.library(index_like).Series("", index=index_like.index, dtype="str")
    out = empty
    for mask, text in parts:
        out = out + empty.where(~as_mask(mask), REASON_SEP + text)
    return out.str.slice(len(REASON_SEP))
