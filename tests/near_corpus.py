"""A corpus with planted near-duplicates and its ground truth, for near_dedup's tests:
documents of words drawn from the standard library's own docstrings, variants with a chosen
number of words replaced, and the exact clusters from the set Jaccard of Python n-grams
(computed here from the definition, independently of ``assay.transforms.shingles``)."""

from __future__ import annotations

import argparse
import collections
import json
import re
import textwrap
from itertools import combinations

import numpy as np


def vocabulary() -> list[str]:
    text = " ".join(m.__doc__ or "" for m in (argparse, collections, json, textwrap))
    return sorted(set(re.findall(r"[a-z]{3,}", text.lower())))


def ngrams(text: str | None, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", (text or "").lower())
    if 0 < len(words) < n:
        return {tuple(words)}
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def planted(families: int, seed: int, length: int = 300,
            edits: tuple[int, ...] = (0, 1, 2, 4, 7, 12, 25)) -> list[str]:
    """``families`` random documents, each followed by one variant per ``edits`` entry
    (that many words replaced at random places), shuffled."""
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary())
    docs = []
    for _ in range(families):
        base = rng.choice(words, length)
        docs.append(" ".join(base))
        for k in edits:
            variant = base.copy()
            variant[rng.choice(length, k, replace=False)] = rng.choice(words, k)
            docs.append(" ".join(variant))
    return [docs[i] for i in rng.permutation(len(docs))]


def true_clusters(texts: list[str | None], threshold: float, n: int = 5) -> list[int]:
    """Each document's cluster (its smallest index) under edges of exact Jaccard >=
    ``threshold``, by union-find over every pair."""
    sets = [ngrams(t, n) for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(texts)), 2):
        if sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold:
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(texts))]


def near_scores(texts: list[str | None], removed: list[bool], threshold: float,
                n: int = 5) -> tuple[float, float]:
    """Precision (the share of removed documents with a kept one at Jaccard >=
    ``threshold``) and recall (the share of pairs at >= ``threshold`` not both kept), as
    ``benchmarks/run_near_dedup.py`` scores every tool."""
    sets = [ngrams(t, n) for t in texts]
    near = [(i, j) for i, j in combinations(range(len(texts)), 2)
            if sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold]
    kept = [i for i, gone in enumerate(removed) if not gone]
    gone = [i for i, out in enumerate(removed) if out]
    twinned = sum(any(sets[k] and jaccard(sets[i], sets[k]) >= threshold for k in kept)
                  for i in gone)
    found = sum(removed[i] or removed[j] for i, j in near)
    return (twinned / len(gone) if gone else 1.0), (found / len(near) if near else 1.0)
