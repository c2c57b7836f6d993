"""The n-gram hashes equal a plain per-document reading of their definition
(``assay.transforms.shingles``), on any text."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.transforms.key_hash import LENGTH_PRIME, PRIME, fmix64
from assay.transforms.shingles import shingle_hashes

# letters that lowercase the same in Python and in Arrow (utf8proc: no final-sigma rule,
# so capital sigma is left out), separators, digits
ALPHABET = "aAbBzZéÉßσжЖ中文_0९ \t\n.,;!-–'\"😀"


def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LN"


def _tokens(text: str, unit: str) -> list[int]:
    text = text.lower()
    if unit == "char":
        points = np.array([ord(c) for c in " ".join(text.split())], dtype=np.uint64)
        return [int(h) for h in fmix64(points)]
    words, word = [], ""
    for char in text + " ":
        if _is_word_char(char):
            word += char
        elif word:
            words.append(word)
            word = ""
    return [_word_token(word) for word in words]


def _mix(h: int) -> int:
    return int(fmix64(np.array([h % 2**64], dtype=np.uint64))[0])


def _word_token(word: str) -> int:
    """A word's token: its 8-byte little-endian pieces, each mixed with its place."""
    data = word.encode()
    total = len(data) * int(LENGTH_PRIME)
    for j in range(0, len(data), 8):
        piece = int.from_bytes(data[j:j + 8].ljust(8, b"\0"), "little")
        total += _mix(piece ^ ((j // 8 + 1) * int(PRIME) % 2**64))
    return _mix(total)


def _fold(tokens: list[int]) -> int:
    h = 0
    for token in tokens:
        h = (h * int(PRIME) + token) % 2**64
    return int(fmix64(np.array([h], dtype=np.uint64))[0])


def _reference(text: str | None, unit: str, n: int) -> list[int]:
    tokens = _tokens(text or "", unit)
    if not tokens:
        return []
    if len(tokens) < n:
        return [_fold(tokens)]
    return [_fold(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.none() | st.text(ALPHABET, max_size=40), max_size=8),
       unit=st.sampled_from(["word", "char"]), n=st.integers(1, 6))
def test_hashes_follow_the_definition(texts: list[str | None], unit: str, n: int) -> None:
    shingles = shingle_hashes(pa.array(texts, pa.string()), unit, n)
    assert len(shingles.offsets) == len(texts) + 1
    for i, text in enumerate(texts):
        got = shingles.hashes[shingles.offsets[i]:shingles.offsets[i + 1]].tolist()
        assert got == _reference(text, unit, n), (text, unit, n)


def test_a_sliced_chunked_column_reads_its_own_rows() -> None:
    texts = pa.chunked_array([["skip me"], ["the quick brown fox", "jumps over"]])
    whole = shingle_hashes(texts, "word", 2)
    alone = shingle_hashes(pa.array(["the quick brown fox", "jumps over"]).slice(1), "word", 2)
    assert whole.counts.tolist() == [1, 3, 1]
    assert alone.hashes.tolist() == whole.hashes[4:].tolist()
    assert whole.documents.tolist() == [0, 1, 1, 1, 2]


def test_case_and_punctuation_do_not_change_word_shingles() -> None:
    a = shingle_hashes(pa.array(["The cat -- sat, on the MAT."]), "word", 3)
    b = shingle_hashes(pa.array(["the cat sat on the mat"]), "word", 3)
    assert a.hashes.tolist() == b.hashes.tolist()


def test_n_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        shingle_hashes(pa.array(["x"]), "word", 0)


def test_long_documents_across_hashing_chunks_follow_the_definition() -> None:
    """Words are hashed in chunks of about 64 KiB of text: documents far longer than one
    chunk, with non-ASCII text, keep the definition."""
    rng = np.random.default_rng(7)
    vocabulary = ["alpha", "Beta", "gamma_1", "délta", "ЖЖ", "中文", "x9"]
    texts = [" ".join(rng.choice(vocabulary, size=int(size)))
             + rng.choice([".", " -- ", "😀 "]) for size in rng.integers(1, 30_000, size=12)]
    shingles = shingle_hashes(pa.array(texts), "word", 5)
    for i, text in enumerate(texts):
        got = shingles.hashes[shingles.offsets[i]:shingles.offsets[i + 1]].tolist()
        assert got == _reference(text, "word", 5)
