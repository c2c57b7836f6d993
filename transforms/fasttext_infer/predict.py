"""The best label of every line of a batch, as fastText's ``predict(line, k=1)`` finds it
with a hierarchical softmax: the hidden vectors in double precision, the tree's sigmoids and
logs in single, as fastText's own (numpy's single-precision exp and log are several times
faster).

A line's hidden vector is the mean of its tokens' input rows plus the end-of-line row (a
token ``</s>`` in the text ends the line there, as it does for fastText). A label's log
score is the sum, along its path in the tree, of ``log(sigmoid(z) + 1e-5)`` where the path
turns right and ``log(1 - sigmoid(z) + 1e-5)`` where it turns left, ``z`` being the node's
output row times the hidden vector. fastText walks the tree depth first and prunes; its
answer is the best leaf unless two leaves are within about the sum of its ``1e-5`` terms,
which ``margin`` lets the caller see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.transforms.fasttext_infer.model import EOS, FastTextModel
from assay.transforms.fasttext_infer.subwords import segment_sums, token_rows

# besides the space, what fastText's readWord splits words on
_OTHER_SEPARATORS = "[\\t\\n\\r\\v\\f\\x00]"
_FUDGE = 1e-5  # fastText's std_log adds it before the log


@dataclass(frozen=True)
class Best:
    """Each line's best label (its index in ``model.labels``; -1: the line has no rows and
    fastText predicts nothing), its log score, and how far the second best is below it."""

    label: np.ndarray  # int64
    log_score: np.ndarray  # float64
    margin: np.ndarray  # float64


def best_labels(model: FastTextModel, lines: pa.Array | pa.ChunkedArray) -> Best:
    """The best label of each of ``lines`` (large strings, each one line of text)."""
    hidden, empty = hidden_vectors(model, lines)
    z = (model.nodes @ hidden.T).astype(np.float32)  # inner nodes x lines
    chance = np.float32(1) / (np.float32(1) + np.exp(-z))
    fudge = np.float32(_FUDGE)
    turns = (np.log(np.float32(1) - chance + fudge), np.log(chance + fudge))  # left, right
    labels = len(model.labels)
    scores = np.empty((labels + len(model.children), len(lines)), np.float32)
    scores[-1] = 0.0  # the root
    for inner in range(len(model.children) - 1, -1, -1):  # parents before children
        for side, child in enumerate(model.children[inner]):
            np.add(scores[labels + inner], turns[side][inner], out=scores[child])
    leaves = np.ascontiguousarray(scores[:labels].T, np.float64)  # lines x labels
    top = np.argmax(leaves, axis=1)
    rows = np.arange(len(lines))
    best = leaves[rows, top]
    leaves[rows, top] = -np.inf
    return Best(np.where(empty, -1, top), best, best - leaves.max(axis=1, initial=-np.inf))


def hidden_vectors(model: FastTextModel, lines: pa.Array | pa.ChunkedArray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each line's hidden vector (the mean of its rows), and whether it has no rows."""
    tokens, owners = line_tokens(lines)
    encoded = pc.dictionary_encode(tokens)
    distinct_sums, distinct_counts = token_rows(model, encoded.dictionary)
    codes = encoded.indices.to_numpy().astype(np.int64)
    sums = segment_sums(np.ascontiguousarray(distinct_sums.T), codes, owners, len(lines))
    counts = np.bincount(owners, weights=distinct_counts[codes], minlength=len(lines))
    if model.eos is not None:
        sums += model.rows[model.eos]
        counts += 1
    empty = counts == 0
    return sums / np.where(empty, 1, counts)[:, None], empty


def line_tokens(lines: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The words fastText's ``readWord`` reads from each line, up to a ``</s>`` (which ends
    a line for it), as one large string array (with an empty string wherever two separators
    meet: those add nothing), and each one's line."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    spaced = pc.replace_substring_regex(lines.cast(pa.large_string()), _OTHER_SEPARATORS, " ")
    split = pc.split_pattern(spaced, " ")
    tokens = pc.list_flatten(split)
    offsets = np.asarray(split.offsets).astype(np.int64)
    owners = np.repeat(np.arange(len(lines)), np.diff(offsets))
    if pc.any(pc.match_substring(spaced, EOS.decode())).as_py():
        ended = pc.equal(tokens, EOS.decode()).to_numpy(zero_copy_only=False)
        seen = np.concatenate([[0], np.cumsum(ended)])
        before = seen[1:] == seen[offsets[owners] - offsets[0]]  # no </s> so far in the line
        tokens, owners = tokens.filter(pa.array(before)), owners[before]
    return tokens, owners
