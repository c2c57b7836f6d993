"""Lines and paragraphs of a partition's documents, with pyarrow kernels over all of them
at once: split into one flat array (with each piece's document), measure, and reduce per
document with ``np.bincount``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A line break as str.splitlines() knows them (RE2 syntax), and those besides "\n"
LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"
LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"
# str.isspace() characters that are not line breaks (str.strip() removes them too)
_WIDE_SPACES = r"\x1f\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}"
INLINE_SPACE = rf"[\t {_WIDE_SPACES}]"
# The same line breaks as code points ("\r\n" is one: the "\r" counts)
BREAK_CODES = [ord(c) for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"]


@dataclass
class Pieces:
    """The pieces (lines, paragraphs) of ``n_docs`` documents, flat, in text order."""

    text: pa.Array
    doc: np.ndarray  # int64: each piece's document
    n_docs: int

    @classmethod
    def split(cls, texts: pa.Array, pattern: str, regex: bool = False) -> Pieces:
        parts = (pc.split_pattern_regex if regex else pc.split_pattern)(texts, pattern)
        return cls(pc.list_flatten(parts), pc.list_parent_indices(parts).to_numpy(),
                   len(texts))

    def subset(self, mask: np.ndarray) -> Pieces:
        return Pieces(self.text.filter(pa.array(mask)), self.doc[mask], self.n_docs)

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Pieces per document (those of ``mask`` only, when given)."""
        doc = self.doc if mask is None else self.doc[mask]
        return np.bincount(doc, minlength=self.n_docs)

    def total(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.doc, weights=values, minlength=self.n_docs)

    def lengths(self) -> np.ndarray:
        return numbers(pc.utf8_length(self.text))

    def duplicates(self) -> np.ndarray:
        """Whether each piece repeats an earlier piece of its document. Only pieces that
        share their document and byte length with another can; only those are hashed."""
        out = np.zeros(len(self.text), dtype=bool)
        if not len(self.text):
            return out
        size = numbers(pc.binary_length(self.text)).astype(np.int64)
        maybe = np.flatnonzero(pd.Series(self.doc * (int(size.max()) + 1) + size)
                               .duplicated(keep=False).to_numpy())
        if len(maybe):
            codes = pc.dictionary_encode(self.text.take(pa.array(maybe))).indices
            codes = codes.to_numpy().astype(np.int64)
            key = self.doc[maybe] * (int(codes.max()) + 1) + codes
            out[maybe] = pd.Series(key).duplicated().to_numpy()
        return out


def numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free Arrow numeric array as numpy."""
    return values.to_numpy(zero_copy_only=False)


def splitlines_form(texts: pa.Array) -> pa.Array:
    """``texts`` with every line break ``str.splitlines`` knows made a plain "\\n"."""
    return pc.replace_substring_regex(texts, LINE_BREAKS, "\n")
