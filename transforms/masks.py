"""Null-safe boolean masks and per-row reasons, built only from operations pandas and cuDF
share, so removal logic never depends on how a backend represents a missing boolean."""

from __future__ import annotations

from collections.abc import Sequence

from assay.transforms import frame as fr
from assay.transforms.base import REASON_SEP
from assay.transforms.frame import Column, Frame


def as_mask(values: Column) -> Column:
    """A plain bool column: nullable booleans become False where missing."""
    if values.dtype == bool and not fr.has_nulls(values):  # already plain: no copy
        return values
    return values.fillna(False).astype(bool)


def present(values: Column) -> Column:
    return as_mask(values.notna())


def removal_reason(index_like: Column | Frame, parts: Sequence[tuple[Column, str]]
                   ) -> Column | str:
    """The reason of each removed row, for a step that removes the rows of any of ``parts``:
    a check's text alone when it is the only one (every removed row failed it; no column
    to build), else ``reasons``."""
    return parts[0][1] if len(parts) == 1 else reasons(index_like, parts)


WORD = 62  # masks packed per int64 code (bit 63 left alone: codes stay positive)


def reasons(index_like: Column | Frame, parts: Sequence[tuple[Column, str]]) -> Column:
    """One string per row joining the texts whose mask is True there ('' elsewhere).

    Each row's failures are packed as bits of one integer code, and the text of each
    distinct code (few: combinations that actually occur) is built once and mapped back.
    String concatenation per row and per check was the reader's and the gates' largest
    cost when many rows fail.
    """
    lib = fr.library(index_like)
    if len(parts) > WORD:  # rare: more checks than one code holds; join two halves
        head, tail = reasons(index_like, parts[:WORD]), reasons(index_like, parts[WORD:])
        both = as_mask((head != "") & (tail != ""))
        return (head + REASON_SEP + tail).where(both, head + tail)
    if not parts:
        return lib.Series("", index=index_like.index, dtype="str")
    arrays = [fr.array_values(as_mask(mask)) for mask, _ in parts]
    packed = fr.array_module(arrays[0]).zeros(len(index_like), dtype="int64")
    for bit, array in enumerate(arrays):  # array ops: no Series per check
        packed |= array.astype("int64") << bit
    codes = lib.Series(packed, index=index_like.index)
    distinct = [int(c) for c in fr.to_host(codes[codes != 0].drop_duplicates())]
    if not distinct:
        return lib.Series("", index=index_like.index, dtype="str")
    texts = [REASON_SEP.join(text for bit, (_, text) in enumerate(parts) if code >> bit & 1)
             for code in distinct]
    lookup = lib.Series(["", *texts], index=[0, *distinct], dtype="str")
    return codes.map(lookup)
