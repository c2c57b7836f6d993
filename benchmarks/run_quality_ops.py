"""CPU time of each quality filter step on ~2 KB documents, against datatrove's filter
of the same rules on the same documents (issue 16; the documents are the oracle test's
generator, tests/transforms/quality_corpus.py, keeping those of 1.5-2.6 KB).

    python benchmarks/run_quality_ops.py               # 4,000 documents, best of 3
    python benchmarks/run_quality_ops.py --docs 40000 --peer-docs 400

Prints documents per second per core (process CPU time, one thread) per step, with and
without ``score_prefix``, all four in a row, and datatrove's rate and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from assay.transforms.quality.c4 import C4Quality
from assay.transforms.quality.chars import table
from assay.transforms.quality.fineweb import FineWebQuality
from assay.transforms.quality.gopher import GopherQuality
from assay.transforms.quality.repetition import GopherRepetition

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))
from tests.transforms.quality_corpus import corpus  # noqa: E402

STEPS = [GopherQuality, GopherRepetition, C4Quality, FineWebQuality]


def documents(count: int) -> list[str]:
    sized = [d for d in corpus(3000, seed=7) if 1500 <= len(d) <= 2600]
    return (sized * (count // len(sized) + 1))[:count]


def best_cpu(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def peer_rates(docs: list[str]) -> dict[str, float]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    peers = {"GopherQuality": GopherQualityFilter, "GopherRepetition": GopherRepetitionFilter,
             "C4Quality": C4QualityFilter, "FineWebQuality": FineWebQualityFilter}
    rates = {}
    for name, peer in peers.items():
        oracle = peer()
        oracle.filter(Document(text=docs[0], id="warm"))  # loads spaCy
        seconds = best_cpu(lambda o=oracle: [o.filter(Document(text=d, id=str(i)))
                                             for i, d in enumerate(docs)], 1)
        rates[name] = len(docs) / seconds
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--peer-docs", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docs = documents(args.docs)
    frame = pd.DataFrame({"text": pd.Series(docs, dtype="str")})
    table()  # the character table is built once per process (~0.4 s), not per partition
    print(f"{len(docs)} documents, {sum(map(len, docs)) / len(docs):.0f} characters each")
    peers = peer_rates(documents(args.peer_docs)) if args.peer_docs else {}
    for step in STEPS:
        rates = []
        for prefix in (None, "s_"):
            instance = step(column="text", score_prefix=prefix)
            instance.apply(frame.iloc[:10])
            rates.append(len(docs) / best_cpu(lambda s=instance: s.apply(frame), args.repeat))
        peer = peers.get(step.__name__)
        versus = f"  datatrove {peer:7.0f}/s ({rates[0] / peer:5.1f}x)" if peer else ""
        print(f"{step.__name__:17s} {rates[0]:8.0f} docs/s/core "
              f"(scores kept: {rates[1]:8.0f}){versus}")
    steps = [step(column="text") for step in STEPS]
    together = best_cpu(lambda: [s.apply(frame) for s in steps], args.repeat)
    print(f"{'all four':17s} {len(docs) / together:8.0f} docs/s/core")


if __name__ == "__main__":
    main()
