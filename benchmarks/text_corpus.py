"""A text corpus with planted near-duplicates of known Jaccard similarity, and its exact truth.

The text is real English prose that installs from PyPI, so anyone can rebuild the corpus
without a download: the documentation strings of botocore's service models (``botocore/data``:
about 256,000 distinct paragraphs, 26 MB, written by people, about every AWS API; botocore
comes with the dev extra, pinned through ``s3fs`` and ``aiobotocore``) and the prose of
CPython's own ``pydoc_data.topics`` (the language reference, pinned by the interpreter).
No single registry package ships the ~200 MB of unique prose that 100,000 documents of 2 KB
would need, so documents are sequences of real paragraphs drawn from a seeded permutation of
the pool, a new permutation each time the pool runs out: each paragraph comes back about
once per 13,000 documents, as boilerplate does on the web, and two documents that share a
paragraph stay far below a Jaccard of 0.5 (the truth below proves it for every pair).

Near-duplicates are planted by editing a base document (word substitutions, insertions and
deletions with words of the pool's vocabulary, the number of edits bisected so the Jaccard
of the 5-word shingle sets lands near a target drawn uniformly from 0.5..1.0; some copies are
byte-identical or differ only in case and spacing, Jaccard 1). Then everything is shuffled.

The truth is exact, for every pair of documents in the corpus with Jaccard >= 0.5 (planted or
accidental), plus every planted pair whatever its Jaccard: candidates come from prefix
filtering (AllPairs, Bayardo et al. 2007: two sets with Jaccard >= t share a token among
their first ``n - ceil(t n) + 1`` tokens in any global order; rarest first keeps it cheap),
which cannot miss a pair; their overlap is counted on 64-bit shingle hashes, and every pair
near the bar is recounted on the shingle strings themselves, so no hash collision can enter
the truth. Shingles: the text lower-cased, words are runs of ``\\w`` (Unicode), 5-word
n-grams, a set; a document of fewer than 5 words has one shingle of all its words.

    python -m benchmarks.text_corpus --docs 50000          # writes benchmarks/data/text-...
    python -m benchmarks.text_corpus --docs 500000 --no-truth   # documents only

Files: ``docs-NNNNN.parquet`` (``id``, ``text``), ``truth.parquet`` (``a`` < ``b``,
``intersection``, ``union``, ``jaccard``, ``planted``) and ``corpus.json`` (what made it).
The same seed, sizes and source versions give the same files.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import html
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
NGRAM = 5
MIN_JACCARD = 0.5  # the truth holds every pair at or above it
WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


# -- shingling (the definition the truth uses) -----------------------------------------------


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def shingles(text: str, n: int = NGRAM) -> set[str]:
    """The set of word n-grams of ``text``; fewer than ``n`` words make one shingle."""
    ws = words(text)
    if len(ws) < n:
        return {" ".join(ws)}
    return {" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def jaccard(a: str, b: str, n: int = NGRAM) -> float:
    x, y = shingles(a, n), shingles(b, n)
    return len(x & y) / len(x | y)


# -- the source -------------------------------------------------------------------------------


def _documentation(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "documentation" and isinstance(value, str):
                yield value
            else:
                yield from _documentation(value)
    elif isinstance(node, list):
        for value in node:
            yield from _documentation(value)


def _botocore_paragraphs() -> Iterator[str]:
    """Paragraphs of every service's newest model, services in name order."""
    import botocore

    root = Path(botocore.__file__).parent / "data"
    for service in sorted(p for p in root.iterdir() if p.is_dir()):
        models = sorted(service.glob("*/service-2.json*"))
        if not models:
            continue
        newest = models[-1]
        opener = gzip.open if newest.suffix == ".gz" else open
        with opener(newest, "rt", encoding="utf-8") as f:
            model = json.load(f)
        for doc in _documentation(model):
            yield from re.split(r"</p>|</li>|\n", doc)


def _pydoc_paragraphs() -> Iterator[str]:
    """The reference's prose paragraphs (not its indented grammar and code)."""
    from pydoc_data.topics import topics

    for name in sorted(topics):
        for block in topics[name].split("\n\n"):
            if block and not block[0].isspace() and not set(block.strip()) <= set("*=-"):
                yield block


@functools.cache
def source_paragraphs(min_words: int = 4) -> list[str]:
    """The pool: distinct cleaned paragraphs of at least ``min_words`` words, in a fixed
    order (first occurrence). Cached: parsing botocore's models takes seconds."""
    seen: dict[str, None] = {}
    for raw in (*_pydoc_paragraphs(), *_botocore_paragraphs()):
        text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", raw))).strip()
        if len(WORD.findall(text)) >= min_words:
            seen.setdefault(text)
    return list(seen)


def source_versions() -> dict[str, str]:
    return {"botocore": version("botocore"), "python": sys.version.split()[0]}


# -- documents and planted near-duplicates ----------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    docs: int
    seed: int = 0
    doc_chars: int = 2000
    near_dup_fraction: float = 0.1  # of all documents: edited copies of another
    files: int = 8
    # documents per Parquet row group (~16 MiB of 2 KB texts), as dataset writers cut them:
    # with one group per file, a file of 62,500 documents was one 126 MiB group that the
    # reader cuts into slices, each decoded from the group's start (RESULTS.md, issue 16)
    row_group_docs: int = 8192

    @property
    def folder(self) -> Path:
        return DATA / (f"text-{self.docs}-s{self.seed}-c{self.doc_chars}"
                       f"-f{int(self.near_dup_fraction * 1000)}")


def _base_documents(pool: list[str], count: int, chars: int, rng: np.random.Generator
                    ) -> list[str]:
    docs: list[str] = []
    order = rng.permutation(len(pool))
    at = 0
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < chars:
            if at == len(order):
                order, at = rng.permutation(len(pool)), 0
            parts.append(pool[order[at]])
            size += len(parts[-1]) + 2
            at += 1
        docs.append("\n\n".join(parts))
    return docs


def _edited(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with the first ``len(edits)`` edits applied to its whitespace tokens:
    (kind 0 substitute, 1 insert after, 2 delete; token position; word)."""
    parts = re.split(r"(\s+)", text)
    tokens = parts[0::2]
    for kind, at, word in edits:
        at %= len(tokens)
        if kind == 0:
            tokens[at] = word
        elif kind == 1:
            tokens[at] = f"{tokens[at]} {word}"
        else:
            tokens[at] = ""
    parts[0::2] = tokens
    return "".join(parts)


def near_duplicate(base: str, target: float, vocabulary: list[str],
                   rng: np.random.Generator) -> str:
    """A copy of ``base`` whose shingle-set Jaccard with it is close to ``target``: the
    number of edits of a seeded edit sequence is bisected (the Jaccard falls about
    monotonically with it). Target 1: the same text, or the same words in other case and
    spacing (same shingles, other bytes)."""
    if target >= 1.0:
        if rng.random() < 0.5:
            return base
        return _SPACE.sub("  ", base[:1].upper() + base[1:].swapcase(), count=3)
    tokens = len(re.split(r"\s+", base))
    budget = tokens
    kinds = rng.choice(3, size=budget, p=[0.6, 0.2, 0.2])
    spots = rng.integers(0, tokens, size=budget)
    picks = rng.integers(0, len(vocabulary), size=budget)
    edits = [(int(k), int(s), vocabulary[p]) for k, s, p in zip(kinds, spots, picks, strict=True)]
    original = shingles(base)

    def similarity(k: int) -> float:
        other = shingles(_edited(base, edits[:k]))
        return len(original & other) / len(original | other)

    low, high = 1, budget  # find the fewest edits that bring it to the target or below
    while low < high:
        mid = (low + high) // 2
        if similarity(mid) > target:
            low = mid + 1
        else:
            high = mid
    best = min((low - 1, low), key=lambda k: abs(similarity(max(k, 1)) - target))
    return _edited(base, edits[:max(best, 1)])


def build(spec: CorpusSpec) -> tuple[list[str], list[tuple[int, int]]]:
    """The documents in corpus order and the planted (base, copy) pairs, as row ids."""
    rng = np.random.default_rng(spec.seed)
    pool = source_paragraphs()
    copies = round(spec.docs * spec.near_dup_fraction)
    bases = _base_documents(pool, spec.docs - copies, spec.doc_chars, rng)
    vocabulary = sorted({w for p in pool[::50] for w in WORD.findall(p)})
    texts = list(bases)
    planted: list[tuple[int, int]] = []
    chosen = iter(rng.permutation(len(bases)))
    while len(texts) < spec.docs:
        base = int(next(chosen))
        for _ in range(min(int(rng.choice([1, 1, 1, 1, 1, 1, 1, 2, 2, 3])),
                           spec.docs - len(texts))):
            target = 1.0 if rng.random() < 0.1 else float(rng.uniform(MIN_JACCARD, 1.0))
            texts.append(near_duplicate(bases[base], target, vocabulary, rng))
            planted.append((base, len(texts) - 1))
    order = rng.permutation(len(texts))  # row id of position -> original index
    row_of = np.empty_like(order)
    row_of[order] = np.arange(len(order))
    docs = [texts[i] for i in order]
    pairs = [tuple(sorted((int(row_of[a]), int(row_of[b])))) for a, b in planted]
    return docs, pairs  # type: ignore[return-value]


# -- exact truth ------------------------------------------------------------------------------


def _hashed_shingles(docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(doc of each shingle, 64-bit hash of each shingle), one entry per distinct shingle
    of each document. Words become ids through one dictionary (per-document Python: the
    tokenizer is the definition), n-gram hashes are mixed in numpy."""
    vocabulary: dict[str, int] = {}
    ids: list[int] = []
    lengths = np.empty(len(docs), dtype=np.int64)
    for i, text in enumerate(docs):
        ws = words(text)
        lengths[i] = len(ws)
        ids.extend(vocabulary.setdefault(w, len(vocabulary)) for w in ws)
    word_ids = np.asarray(ids, dtype=np.uint64) + np.uint64(1)  # 0 pads short documents
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    short = np.flatnonzero(lengths < NGRAM)
    # every n-gram start position that stays inside its document, and one per short document
    per_doc = np.maximum(lengths - NGRAM + 1, 0)
    doc = np.repeat(np.arange(len(docs)), per_doc)
    first = np.repeat(starts, per_doc) + (np.arange(per_doc.sum()) - np.repeat(
        np.cumsum(per_doc) - per_doc, per_doc))
    grams = np.stack([word_ids[first + k] for k in range(NGRAM)], axis=1) if len(first) else \
        np.zeros((0, NGRAM), dtype=np.uint64)
    if len(short):
        padded = np.zeros((len(short), NGRAM), dtype=np.uint64)
        for row, d in enumerate(short):
            padded[row, :lengths[d]] = word_ids[starts[d]:starts[d] + lengths[d]]
        grams = np.concatenate([grams, padded])
        doc = np.concatenate([doc, short])
    h = np.zeros(len(grams), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(NGRAM):
            h = _mix(h ^ _mix(grams[:, k] + np.uint64(k * 0x9E3779B97F4A7C15 & 2**64 - 1)))
    keys = np.unique(np.stack([doc.astype(np.uint64), h], axis=1), axis=0)
    return keys[:, 0].astype(np.int64), keys[:, 1]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 with full avalanche."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _pairs_within_groups(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Every pair (i < j) of ``values`` that share a key, as an (n, 2) array."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    group = np.repeat(np.arange(len(starts)), sizes)
    offset = np.arange(len(keys)) - starts[group]
    partners = sizes[group] - 1 - offset  # the entries after this one in its group
    left = np.repeat(np.arange(len(keys)), partners)
    run_start = np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + (np.arange(partners.sum()) - run_start)
    a, b = values[left], values[right]
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


def truth(docs: list[str], planted: list[tuple[int, int]], threshold: float = MIN_JACCARD
          ) -> pa.Table:
    """Every pair with Jaccard >= ``threshold`` and every planted pair, exactly."""
    from scipy import sparse

    doc, h = _hashed_shingles(docs)
    tokens, token, df = np.unique(h, return_inverse=True, return_counts=True)
    del tokens
    sizes = np.bincount(doc, minlength=len(docs))
    rank = np.empty(len(df), dtype=np.int64)
    rank[np.lexsort((np.arange(len(df)), df))] = np.arange(len(df))  # rarest first
    order = np.lexsort((rank[token], doc))
    doc_o, token_o = doc[order], token[order]
    position = np.arange(len(order)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    prefix = sizes - np.ceil(threshold * sizes - 1e-9).astype(np.int64) + 1
    keep = (position < prefix[doc_o]) & (df[token_o] > 1)
    candidates = _pairs_within_groups(token_o[keep], doc_o[keep])
    candidates = np.unique(np.concatenate(
        [candidates, np.asarray(planted, dtype=np.int64).reshape(-1, 2)]), axis=0)
    small, large = np.sort(sizes[candidates], axis=1).T
    candidates = candidates[small >= threshold * large - 1e-9]  # the length filter
    matrix = sparse.csr_matrix((np.ones(len(doc), dtype=np.float32), (doc, token)),
                               shape=(len(docs), len(df)))
    overlap = np.concatenate([
        np.asarray(matrix[chunk[:, 0]].multiply(matrix[chunk[:, 1]]).sum(axis=1)).ravel()
        for chunk in np.array_split(candidates, max(1, len(candidates) // 50_000))
    ]) if len(candidates) else np.zeros(0)
    union = sizes[candidates[:, 0]] + sizes[candidates[:, 1]] - overlap
    planted_set = set(planted)
    is_planted = np.isin(candidates[:, 0] * len(docs) + candidates[:, 1],
                         [a * len(docs) + b for a, b in planted])
    near = overlap / np.maximum(union, 1) >= threshold - 0.05  # recounted on strings below
    rows = []
    for a, b in candidates[near | is_planted]:
        x, y = shingles(docs[a]), shingles(docs[b])
        inter, uni = len(x & y), len(x | y)
        if inter / uni >= threshold or (int(a), int(b)) in planted_set:
            rows.append((int(a), int(b), inter, uni, inter / uni, (int(a), int(b)) in planted_set))
    for a, b in planted_set - {(r[0], r[1]) for r in rows}:  # cut by the length filter
        x, y = shingles(docs[a]), shingles(docs[b])
        rows.append((a, b, len(x & y), len(x | y), len(x & y) / len(x | y), True))
    rows.sort()
    names = ["a", "b", "intersection", "union", "jaccard", "planted"]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(names)},
                    schema=pa.schema([("a", pa.int64()), ("b", pa.int64()),
                                      ("intersection", pa.int64()), ("union", pa.int64()),
                                      ("jaccard", pa.float64()), ("planted", pa.bool_())]))


# -- files ------------------------------------------------------------------------------------


def write(spec: CorpusSpec, with_truth: bool = True) -> Path:
    """Build the corpus and (``with_truth``) its truth into ``spec.folder`` (``corpus.json``
    last). Without the truth (its prefix filtering holds every shingle of the corpus in
    memory, several GiB at 500,000 documents) there is no ``truth.parquet``."""
    folder = spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    started = time.perf_counter()
    docs, planted = build(spec)
    built = time.perf_counter()
    table = truth(docs, planted) if with_truth else None
    for i, chunk in enumerate(np.array_split(np.arange(len(docs)), spec.files)):
        pq.write_table(pa.table({"id": pa.array(chunk, pa.int64()),
                                 "text": pa.array([docs[j] for j in chunk], pa.string())}),
                       folder / f"docs-{i:05d}.parquet", compression="zstd",
                       row_group_size=spec.row_group_docs)
    if table is not None:
        pq.write_table(table, folder / "truth.parquet")
    info = {**asdict(spec), "source": source_versions(), "ngram": NGRAM,
            "truth_min_jaccard": MIN_JACCARD, "planted_pairs": len(planted),
            "truth_pairs": None if table is None else table.num_rows,
            "accidental_pairs": None if table is None else int(
                table.num_rows - pa.compute.sum(table["planted"]).as_py()),
            "bytes": sum(len(d.encode()) for d in docs),
            "build_s": round(built - started, 2),
            "truth_s": round(time.perf_counter() - built, 2)}
    (folder / "corpus.json").write_text(json.dumps(info, indent=2) + "\n")
    return folder


def ensure(spec: CorpusSpec, with_truth: bool = True) -> Path:
    """The corpus folder for ``spec``, built once (rebuilt if the source's versions or the
    files' row groups differ, or to add the truth when ``with_truth`` asks for it and it
    was built without)."""
    marker = spec.folder / "corpus.json"
    built = json.loads(marker.read_text()) if marker.exists() else {}
    if built.get("source") == source_versions() \
            and built.get("row_group_docs") == spec.row_group_docs \
            and (not with_truth or (spec.folder / "truth.parquet").exists()):
        return spec.folder
    folder = write(spec, with_truth)
    info = json.loads(marker.read_text())
    pairs = "no truth" if info["truth_pairs"] is None else \
        f"{info['truth_pairs']:,} pairs in the truth"
    print(f"corpus: {spec.docs:,} documents ({info['bytes'] / 2**20:.0f} MiB), "
          f"{info['planted_pairs']:,} planted pairs, {pairs}, "
          f"built in {info['build_s']} s + truth {info['truth_s']} s -> {folder}",
          file=sys.stderr)
    return folder


def read_truth(folder: Path) -> pa.Table | None:
    """The corpus's truth, or None when it was built without (``--no-truth``)."""
    path = folder / "truth.parquet"
    return pq.read_table(path) if path.exists() else None


def doc_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("docs-*.parquet"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doc-chars", type=int, default=2000)
    parser.add_argument("--near-dup-fraction", type=float, default=0.1)
    parser.add_argument("--no-truth", action="store_true",
                        help="skip the exact truth (no precision/recall on this corpus)")
    args = parser.parse_args(argv)
    folder = ensure(CorpusSpec(args.docs, args.seed, args.doc_chars, args.near_dup_fraction),
                    with_truth=not args.no_truth)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

