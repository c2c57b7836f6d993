"""One near-duplicate tool on one corpus, in its own process (run_near_dedup.py starts it).

    python -m benchmarks.near_dedup_tools {datatrove,datasketch,assay} CORPUS OUT \\
        [--workers N] [--threshold 0.8]

Every tool uses the same n-grams as the truth (lower-cased ``\\w+`` words, 5-grams) and the
same 112 hashes (14 bands x 8 rows). The process touches ``OUT/started`` once its imports
are done, so the caller can count the work apart from the interpreter's start, writes the
removed documents' ids to ``OUT/removed.json`` and prints ``RESULT {json}`` last.

- datatrove: its four MinHash stages, each on a ``LocalPipelineExecutor`` (``fork``, so
  the workers are this process's children): signatures (one task per corpus file), buckets
  (14 tasks, one per band, as it requires), clusters (one task, as it requires), filter
  (the kept documents written as Parquet, the removed ones by its exclusion writer). Its
  text normalisation is reduced to lower-casing and its tokenizer to ``\\w+``, so its
  shingles are the truth's; no verification, as datatrove has none.
- datasketch: ``MinHash`` (``update_batch``) and ``MinHashLSH`` with ``params=(14, 8)``,
  in document order: a document whose query finds a candidate is removed, else inserted
  (its documented dedup loop; one core, it has no parallel mode; no verification).
- assay: ``assay.run`` on a spec with the ``near_dedup`` step (``spec_for``); the removed
  documents are those missing from the published table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from benchmarks.text_corpus import NGRAM, doc_files, words  # noqa: E402

BANDS, ROWS = 14, 8
TOOLS = ("datatrove", "datasketch", "assay")

# The spec's step, in one place: a renamed key of near_dedup is a one-line fix here.
NEAR_DEDUP_STEP: dict[str, Any] = {
    "op": "near_dedup", "column": "text", "unit": "word", "ngram": NGRAM,
    "bands": BANDS, "rows_per_band": ROWS, "seed": 42, "scope": "run",
}
THRESHOLD_KEY = "threshold"


def spec_for(corpus: Path, sink: Path, workers: int, threshold: float) -> dict[str, Any]:
    """assay's spec for the corpus: the Parquet shards in, ``near_dedup`` alone; workers
    as processes of one thread, so each one's memory is its own process's."""
    return {
        "name": "near_dedup_bench",
        "source": {"paths": [str(corpus / "docs-*.parquet")], "format": "parquet"},
        "schema": {"columns": [{"name": "id", "type": "int64", "nullable": False},
                               {"name": "text", "type": "string"}]},
        "steps": [{**NEAR_DEDUP_STEP, THRESHOLD_KEY: threshold}],
        "sink": {"path": str(sink), "compression": "zstd"},
        "cluster": {"workers": workers, "threads_per_worker": 1, "processes": True},
    }


def run_assay(corpus: Path, out: Path, workers: int, threshold: float) -> list[int]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import yaml

    import assay

    spec = out / "pipeline.yaml"
    spec.write_text(yaml.safe_dump(spec_for(corpus, out / "assay", workers, threshold),
                                   sort_keys=False))
    (out / "started").touch()
    assay.run(spec)
    kept = assay.open_dataset(out / "assay").to_arrow(columns=["id"])["id"]
    ids = pq.read_table(doc_files(corpus), columns=["id"])["id"]
    return ids.filter(pc.invert(pc.is_in(ids, kept))).to_pylist()


def run_datasketch(corpus: Path, out: Path, workers: int, threshold: float) -> list[int]:
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    (out / "started").touch()
    lsh = MinHashLSH(threshold=threshold, num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    removed = []
    for path in doc_files(corpus):
        table = pq.read_table(path)
        for doc_id, text in zip(table["id"].to_pylist(), table["text"].to_pylist(),
                                strict=True):
            ws = words(text)
            grams = {" ".join(ws[i:i + NGRAM]) for i in range(max(len(ws) - NGRAM + 1, 1))}
            sketch = MinHash(num_perm=BANDS * ROWS)
            sketch.update_batch([g.encode() for g in grams])
            if lsh.query(sketch):
                removed.append(doc_id)
            else:
                lsh.insert(doc_id, sketch)
    return removed


def _word_tokenizer() -> Any:
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Words(WordTokenizer):
        """The truth's words (the text arrives lower-cased)."""

        def word_tokenize(self, text: str) -> list[str]:
            return re.findall(r"\w+", text)

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(m.start(), m.end()) for m in re.finditer(r"\w+", text)]

    return Words()


def run_datatrove(corpus: Path, out: Path, workers: int, threshold: float) -> list[int]:
    import gzip

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils.text import TextNormConfig

    del threshold  # datatrove's bar is implied by the bands: about (1/14)^(1/8) = 0.72
    config = MinhashConfig(
        n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS,
        norm_config=TextNormConfig(lowercase=True, norm_whitespace=False,
                                   remove_punctuation=False, norm_unicode_diacritics=False,
                                   norm_numbers=False))
    files = len(doc_files(corpus))
    work = out / "datatrove"

    def reader() -> Any:
        return ParquetReader(str(corpus), glob_pattern="docs-*.parquet")

    def execute(pipeline: list[Any], tasks: int, stage: str) -> None:
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks),
                              logging_dir=str(work / "logs" / stage),
                              start_method="fork").run()

    (out / "started").touch()
    execute([reader(), MinhashDedupSignature(str(work / "signatures"), config=config,
                                             language=_word_tokenizer())], files, "1")
    execute([MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"),
                                 config=config)],
            BANDS, "2")
    execute([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"),
                                 config=config)], 1, "3")
    execute([reader(),
             MinhashDedupFilter(str(work / "remove"),
                                exclusion_writer=JsonlWriter(str(work / "removed"))),
             ParquetWriter(str(work / "kept"))], files, "4")
    removed = []
    for path in sorted((work / "removed").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            removed += [int(json.loads(line)["id"]) for line in f]
    return removed


RUNNERS = {"datatrove": run_datatrove, "datasketch": run_datasketch, "assay": run_assay}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=TOOLS)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    started = time.perf_counter()
    removed = RUNNERS[args.tool](args.corpus, args.out, args.workers, args.threshold)
    (args.out / "removed.json").write_text(json.dumps(sorted(removed)))
    print("RESULT " + json.dumps({"tool": args.tool, "removed": len(removed),
                                  "work_s": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
