"""Character classes of the quality rules: one lookup table over every Unicode code point
(filled in as code points are met), and a partition's text as one array of code points, so
tokenizing is numpy over the whole partition rather than Python per document.

The classes follow Python's own definitions, which the reference implementations
(datatrove's, with ``str.isspace``/``str.isalpha``) use: *space* is ``str.isspace``, *alpha*
``str.isalpha``; *punctuation* (a token made only of it is a "symbol", not a word) is every
Unicode punctuation (P*) and symbol (S*) character and the control characters, where
datatrove lists ~300 characters by hand (see ``tokens`` for what that difference moves).
The sentence terminals are Unicode's ``Sentence_Terminal`` property (PropList.txt, Unicode 16),
which datatrove's ``TERMINAL_PUNCTUATION`` copies from an older Unicode.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPACE, PUNCT, ALPHA, INFIX, PREFIX, SUFFIX, DIGIT, UPPER = 1, 2, 4, 8, 16, 32, 64, 128

# Unicode 16's Sentence_Terminal code points, as ranges
_STERM = (
    "0x21 0x2E 0x3F 0x589 0x61D-0x61F 0x6D4 0x700-0x702 0x7F9 0x837 0x839 0x83D-0x83E "
    "0x964-0x965 0x104A-0x104B 0x1362 0x1367-0x1368 0x166E 0x1735-0x1736 0x17D4-0x17D5 "
    "0x1803 0x1809 0x1944-0x1945 0x1AA8-0x1AAB 0x1B4E-0x1B4F 0x1B5A-0x1B5B 0x1B5E-0x1B5F "
    "0x1B7D-0x1B7F 0x1C3B-0x1C3C 0x1C7E-0x1C7F 0x2024 0x203C-0x203D 0x2047-0x2049 "
    "0x2CF9-0x2CFB 0x2E2E 0x2E3C 0x2E53-0x2E54 0x2E60-0x2E61 0x3002 0xA4FF 0xA60E-0xA60F "
    "0xA6F3 0xA6F7 0xA876-0xA877 0xA8CE-0xA8CF 0xA92F 0xA9C8-0xA9C9 0xAA5D-0xAA5F "
    "0xAAF0-0xAAF1 0xABEB 0xFE12 0xFE15-0xFE16 0xFE52 0xFE56-0xFE57 0xFF01 0xFF0E 0xFF1F "
    "0xFF61 0x10A56-0x10A57 0x10F55-0x10F59 0x10F86-0x10F89 0x11047-0x11048 "
    "0x110BE-0x110C1 0x11141-0x11143 0x111C5-0x111C6 0x111CD 0x111DE-0x111DF "
    "0x11238-0x11239 0x1123B-0x1123C 0x112A9 0x113D4-0x113D5 0x1144B-0x1144C "
    "0x115C2-0x115C3 0x115C9-0x115D7 0x11641-0x11642 0x1173C-0x1173E 0x11944 0x11946 "
    "0x11A42-0x11A43 0x11A9B-0x11A9C 0x11C41-0x11C42 0x11EF7-0x11EF8 0x11F43-0x11F44 "
    "0x16A6E-0x16A6F 0x16AF5 0x16B37-0x16B38 0x16B44 0x16D6E-0x16D6F 0x16E98 0x1BC9F 0x1DA88"
)
# How spaCy's English tokenizer (datatrove's English word tokenizer) treats punctuation,
# observed character by character: these split off the start of a chunk (as do all symbols
# of category So and currency signs), these off its end (So too), and these split a word
# when between a letter or digit and a letter ("well-known", "a/b").
_WIDE = "⟦⟧〈〉《》「」『』【】〔〕、。！（），：；？～"
_PREFIX = "!\"#$%&'()*+,;<=>?[]_`{}¡£¥§«´·»¿،؛؟٪۔।–—‘’‚“”„…" + _WIDE
_SUFFIX = "!\"#&'()*,:;<>?[]_`{}¡«´·»¿،؛؟٪۔।–—‘’‚“”„…" + _WIDE
_INFIX = "-\u2013\u2014~:<>=/"


def sentence_terminals() -> frozenset[str]:
    """Unicode's sentence-terminal characters (FineWeb's default line-end characters)."""
    chars: set[str] = set()
    for item in _STERM.split():
        low, _, high = item.partition("-")
        chars.update(map(chr, range(int(low, 16), int(high or low, 16) + 1)))
    return frozenset(chars)


_INFIX_SET, _PREFIX_SET, _SUFFIX_SET = frozenset(_INFIX), frozenset(_PREFIX), frozenset(_SUFFIX)
_BMP = 0x10000  # the Basic Multilingual Plane, classified on first use; the planes
# above it as their code points are met (``classes``)
_ASTRAL_KNOWN = np.zeros(sys.maxunicode + 1 - _BMP, dtype=bool)


def _bits_of(char: str) -> int:
    """One character's class bits, from Python's own predicates."""
    kind = unicodedata.category(char)
    bits = 0
    if char.isspace():
        bits = SPACE
    elif kind[0] in "PS" or kind == "Cc":
        bits = PUNCT | (PREFIX | SUFFIX if kind == "So" else 0) | (
            PREFIX if kind == "Sc" else 0)
    elif char.isalpha():
        bits = ALPHA | (UPPER if char.isupper() else 0)
    elif kind == "Nd":
        bits = DIGIT
    return (bits | (INFIX if char in _INFIX_SET else 0) | (PREFIX if char in _PREFIX_SET
            else 0) | (SUFFIX if char in _SUFFIX_SET else 0))


def classes(points: np.ndarray) -> np.ndarray:
    """The class bits of each of ``points`` (code points), by a table over every code point:
    the Basic Multilingual Plane's 65,536 classified on first use (0.07 s; all of Unicode
    took 0.27 s of every process's CPU), a code point above it when first met. Two threads
    filling the same entries write the same bits."""
    bits = _table()
    if len(points) and points.max() >= _BMP:
        astral = points[points >= _BMP]
        new = np.unique(astral[~_ASTRAL_KNOWN[astral - _BMP]])
        if len(new):
            bits[new] = [_bits_of(chr(code)) for code in new.tolist()]
            _ASTRAL_KNOWN[new - _BMP] = True
    return bits[points]


@cache
def _table() -> np.ndarray:
    bits = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    bits[:_BMP] = [_bits_of(chr(code)) for code in range(_BMP)]
    return bits


@cache
def marker(codes: tuple[int, ...]) -> np.ndarray:
    """A table over every code point, True at ``codes``: ``marker(codes)[points]`` finds
    them in one pass (``np.isin`` takes several)."""
    marks = np.zeros(sys.maxunicode + 1, dtype=bool)
    marks[list(codes)] = True
    return marks


def code_points(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """All of ``texts`` (nulls as empty) as one uint32 array of code points, and the offset
    of each text in it (``len(texts) + 1`` values)."""
    texts = texts.fill_null("") if texts.null_count else texts
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64 if pa.types.is_large_string(
        texts.type) else np.int32)[texts.offset:texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    text = "" if data is None else str(memoryview(data)[offsets[0]:offsets[-1]], "utf-8")
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return points, starts
