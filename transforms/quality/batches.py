"""A text column made ready for scoring: nulls found, cut into batches of about
``BATCH_CHARS`` characters (the per-character arrays of one batch stay in cache), each
batch tokenizing once. Inside a chain the whole preparation, tokens included, is shared by
the quality steps that read the same text (``memo``): the Gopher steps and C4 then tokenize
a partition once instead of three times."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.memo import derived
from assay.transforms.quality.tokens import Tokens, tokenize, tokenize_points

BATCH_CHARS = 1 << 19  # characters scored at once
# The characters of a column whose tokens are kept for the chain's next step: token arrays
# take ~3.5 bytes a character (~8 until their ids are found), so sharing costs at most
# ~55-130 MiB; batches beyond it tokenize once per step, as they would alone.
SHARED_CHARS = 1 << 24


class TextBatch:
    """Consecutive non-null texts (nulls read as empty) and, once asked for, their tokens."""

    def __init__(self, texts: pa.Array, keep: bool) -> None:
        self.texts = texts
        self._keep = keep
        self._tokens: Tokens | None = None

    def tokens(self, points: tuple[np.ndarray, np.ndarray] | None = None) -> Tokens:
        """The batch's tokens (from ``points``, its code points and offsets, when the
        caller has them), computed once."""
        if self._tokens is not None:
            return self._tokens
        tokens = tokenize(self.texts) if points is None else tokenize_points(*points)
        if self._keep:
            self._tokens = tokens
        return tokens

    def known_tokens(self) -> Tokens | None:
        """The tokens if a step already computed them, else None."""
        return self._tokens


@dataclass
class Prepared:
    original: pa.Array  # the column as one large_string array, nulls kept
    null: np.ndarray  # bool, read-only
    batches: list[TextBatch]


def prepare(values: pa.Array | pa.ChunkedArray) -> Prepared:
    """``values`` (large strings) ready for scoring, shared within a chain."""
    return derived(values, "quality_batches", lambda: _prepare(values))


def _prepare(values: pa.Array | pa.ChunkedArray) -> Prepared:
    original = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    null = original.is_null().to_numpy(zero_copy_only=False)
    null.flags.writeable = False
    texts = original.fill_null("")
    ends = np.cumsum(pc.utf8_length(texts).to_numpy(zero_copy_only=False))
    total = int(ends[-1]) if len(ends) else 0
    cuts = np.searchsorted(ends, np.arange(BATCH_CHARS, total, BATCH_CHARS), "right")
    bounds = np.unique([0, *cuts, len(texts)])
    batches = [TextBatch(texts.slice(a, b - a), int(ends[b - 1]) <= SHARED_CHARS)
               for a, b in itertools.pairwise(bounds)]
    return Prepared(original, null, batches or [TextBatch(texts, True)])
