"""Null-safe boolean masks and per-row reasons, built only from operations pandas and cuDF
share, so removal logic never depends on how a backend represents a missing boolean."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

from transforms import frame as fr
from transforms.base import REASON_SEP
from transforms.frame import Column, Frame


def as_mask(values: Column) -> Column:
    """A plain bool column: nullable booleans become False where missing."""
    return values.fillna(False).astype(bool)


def present(values: Column) -> Column:
    return as_mask(values.notna())


def reasons(index_like: Column | Frame, parts: Sequence[tuple[Column, str]]) -> Column:
    """One string per row joining the texts whose mask is True there ('' elsewhere).

    Only failing rows are concatenated: failures are rare, and string concatenation over a
    whole partition per check was the reader's largest cost.
    """
    lib = fr.library(index_like)
    out = lib.Series("", index=index_like.index, dtype="str")
    masks = [(as_mask(mask), text) for mask, text in parts]
    if not masks:
        return out
    failing = functools.reduce(operator.or_, (mask for mask, _ in masks))
    if not bool(failing.any()):
        return out
    joined = out[failing]
    for mask, text in masks:
        joined = joined.where(~mask[failing], joined + (REASON_SEP + text))
    return out.mask(failing, joined.str.slice(len(REASON_SEP)))
