"""A supervised fastText model file (``.bin`` or quantized ``.ftz``, version 12) read into
numpy arrays: what batch prediction needs and nothing of training."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

MAGIC = 793712314
VERSION = 12
# the header's arguments: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn
# lrUpdateRate (int32 each), then t (a double)
_ARGS = "12id"
HIERARCHICAL_SOFTMAX = 1
SUPERVISED = 3
KSUB = 256  # centroids per product-quantizer subspace
LABEL_PREFIX = b"__label__"
EOS = b"</s>"


@dataclass(frozen=True)
class FastTextModel:
    """The parts of a model that prediction reads, in double precision."""

    minn: int
    maxn: int
    words: pa.Array  # large_binary: the vocabulary's words; a word's id is its position
    labels: list[str]  # without the __label__ prefix, in the dictionary's order
    bucket_rows: np.ndarray  # int32, one per bucket: its n-grams' input row (-1: pruned)
    rows: np.ndarray  # float64, (words + buckets kept, dim): the input matrix
    columns: np.ndarray  # the same, transposed (C order: a column's values adjacent)
    nodes: np.ndarray  # float64, (labels - 1, dim): the output rows of the tree's inner nodes
    children: np.ndarray  # int64, (labels - 1, 2): inner node labels + k's left and right
    #                       child (below ``labels``: a leaf, that label); a child's number is
    #                       always below its parent's
    eos: int | None  # the end-of-line token's word id: every line ends with it


class _Reader:
    """Reads a model file's little-endian fields in order."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: type, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.at)
        self.at += values.nbytes
        return values

    def cstring(self) -> bytes:
        end = self.data.index(b"\0", self.at)
        value, self.at = self.data[self.at:end], end + 1
        return value


def _quantized(read: _Reader) -> np.ndarray:
    """A product-quantized matrix, decoded: each row's centroids times its norm."""
    qnorm, rows, dim, codesize = read.unpack("?qqi")
    codes = read.array(np.uint8, codesize)
    centroids, subspaces = _quantizer(read)
    decoded = np.empty((rows, dim))
    codes = codes.reshape(rows, len(subspaces))
    for m, (begin, end) in enumerate(subspaces):
        decoded[:, begin:end] = centroids[m][codes[:, m]]
    if qnorm:
        norm_codes = read.array(np.uint8, rows)
        norms, _ = _quantizer(read)
        decoded *= norms[0][norm_codes]
    return decoded


def _quantizer(read: _Reader) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """A product quantizer's centroids per subspace, and each subspace's columns."""
    dim, nsubq, dsub, lastdsub = read.unpack("iiii")
    flat = read.array(np.float32, dim * KSUB).astype(np.float64)
    widths = [dsub] * (nsubq - 1) + [lastdsub]
    centroids, subspaces = [], []
    for m, width in enumerate(widths):
        start = m * KSUB * dsub
        centroids.append(flat[start:start + KSUB * width].reshape(KSUB, width))
        subspaces.append((m * dsub, m * dsub + width))
    return centroids, subspaces


def _dense(read: _Reader) -> np.ndarray:
    rows, dim = read.unpack("qq")
    return read.array(np.float32, rows * dim).reshape(rows, dim).astype(np.float64)


def _tree(counts: list[int]) -> np.ndarray:
    """fastText's Huffman tree over the label counts (its ``buildTree``, same ties): each
    inner node's left and right child."""
    leaves = len(counts)
    count = list(counts) + [10**15] * (leaves - 1)
    children = np.zeros((max(leaves - 1, 0), 2), np.int64)
    leaf, node = leaves - 1, leaves
    for inner in range(leaves, 2 * leaves - 1):
        for side in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                children[inner - leaves, side] = leaf
                leaf -= 1
            else:
                children[inner - leaves, side] = node
                node += 1
        count[inner] = sum(count[child] for child in children[inner - leaves])
    return children


def read_model(data: bytes) -> FastTextModel:
    """The model in ``data`` (a file's bytes); ValueError for anything but a version-12
    supervised model with a hierarchical softmax, such as lid.176."""
    read = _Reader(data)
    magic, version = read.unpack("ii")
    if (magic, version) != (MAGIC, VERSION):
        raise ValueError(f"not a fastText model of version {VERSION}")
    args = read.unpack(_ARGS)
    _, _, _, _, _, word_ngrams, loss, kind, bucket, minn, maxn, _, _ = args
    if kind != SUPERVISED or loss != HIERARCHICAL_SOFTMAX or word_ngrams > 1:
        raise ValueError("only supervised models with a hierarchical softmax and no word "
                         "n-grams are read (lid.176 is one)")
    size, nwords, nlabels, _, prune_size = read.unpack("iiiqq")
    entries = []
    for _ in range(size):
        word = read.cstring()
        count, _ = read.unpack("qb")
        entries.append((word, count))
    pairs = read.array(np.int32, 2 * max(prune_size, 0)).reshape(-1, 2)
    if prune_size < 0:  # not pruned: bucket b is row nwords + b
        bucket_rows = np.arange(nwords, nwords + bucket, dtype=np.int32)
    else:
        bucket_rows = np.full(bucket, -1, np.int32)
        bucket_rows[pairs[:, 0]] = nwords + pairs[:, 1]
    (quantized,) = read.unpack("?")
    rows = _quantized(read) if quantized else _dense(read)
    (qout,) = read.unpack("?")
    output = _quantized(read) if quantized and qout else _dense(read)
    words = [word for word, _ in entries[:nwords]]
    return FastTextModel(
        minn=minn, maxn=maxn, words=pa.array(words, pa.large_binary()),
        labels=[word[len(LABEL_PREFIX):].decode() for word, _ in entries[nwords:]],
        bucket_rows=bucket_rows, rows=rows, columns=np.ascontiguousarray(rows.T),
        nodes=output[:nlabels - 1], children=_tree([count for _, count in entries[nwords:]]),
        eos=words.index(EOS) if EOS in words else None)
