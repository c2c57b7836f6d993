"""Out of core: the standard job on an input many times larger than the workers' memory.

Starts a real cluster the way a user would (``dask scheduler`` and ``dask worker`` processes
with a memory limit, ``tests/dask_cli_cluster.py``), generates the standard job's dirty
events as CSV uploads (cached under benchmarks/data/; some files uploaded twice, so dedup
must find duplicates across the whole input), runs assay's engine on it with the spec's
``cluster.address`` pointing at that scheduler, and
measures: input bytes against the workers' total memory limit, wall time, the peak RSS of
each worker process (polled), what the workers spilled to disk and what a p2p shuffle
wrote to disk (the workers' own metrics), rows in and out, duplicates removed, and whether
any worker was restarted. The workers share this machine's disk, so the dedup shuffles
through files (``cluster.shuffle: auto``); ``--shuffle p2p`` measures Dask's p2p shuffle.
Exact dedup is checked against DuckDB running the same job on the
same files (``standard_job/peer_duckdb.py``): curated rows, duplicates and quarantined rows
by reason must all agree. The output ends with issue 15's out-of-core target as a PASS or
FAIL line.

    python benchmarks/run_out_of_core.py    # 10.3 GiB vs 2 x 512 MiB, as deployed: 10.3x
    python benchmarks/run_out_of_core.py --files 2 --rows 300000 --copies 1   # smoke run

The workers run as deployed: Dask's pause (80% of the limit) and the nanny's kill (95%) on,
with the environment assay documents for ``dask worker`` (``assay.pipelines.workers``: no
profiler, pyarrow's system pool, one malloc arena, a 4 MiB mmap threshold;
``--plain-workers`` leaves it out, to measure what it saves) and p2p's buffers lowered to
16 MiB; the run registers assay's worker plugins as any run does. Dedup joins pairs of
blocks into each input of its shuffle (``shuffle_blocks: 2``; ``--shuffle-blocks``). Pauses
are counted from the workers' logs. ``--no-pause`` switches the pause and kill off, so the
limit only drives spilling (how the first 12.8x run was measured, see RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from dask.utils import format_bytes, parse_bytes

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from assay.pipelines.workers import worker_environment  # noqa: E402
from benchmarks.run_standard import (  # noqa: E402
    JOB,
    PYTHON,
    Measured,
    assay_counts,
    environment,
    measure,
    run_peer,
)
from data_samples.generate import dirty_events, write_csv_files  # noqa: E402
from tests.dask_cli_cluster import CliCluster, dask_cli_cluster  # noqa: E402

BENCH = ROOT / "benchmarks"
POLL_SECONDS = 0.1


def ensure_data(files: int, rows: int, copies: int, seed: int) -> Path:
    """A folder of ``files`` distinct uploads of ``rows`` events each (seeds seed, seed+1,
    ...) plus the first ``copies`` again under other names. Uploads are generated once into
    a pool shared by every size (each renamed into place when complete) and hard-linked
    into the folder, so a larger run reuses a smaller one's files and disk."""
    pool = BENCH / "data" / f"ooc-pool-{rows}-s{seed}"
    sources = [pool / f"events-{index:03d}.csv" for index in range(files)]
    for index, path in enumerate(sources):
        if not path.exists():
            (generated,) = write_csv_files(dirty_events(rows, seed + index), pool, n_files=1,
                                           prefix=f"partial-{index:03d}")
            generated.rename(path)
            print(f"  generated {path.name}", file=sys.stderr)
    folder = BENCH / "data" / f"ooc-{files}x{rows}-c{copies}-s{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in sources:
        (folder / path.name).hardlink_to(path)
    for path in sources[:copies]:
        (folder / f"again-{path.name}").hardlink_to(path)
    return folder


# The engine without Prefect (``assay.run``): on a loaded machine the
# CLI's ephemeral Prefect server can time out before the run starts, which is not what this
# measures. The spec's ``cluster.address`` makes it join the running scheduler.
ENGINE = """
import sys
import assay
from assay.pipelines.spec import load_spec
assay.run(sys.argv[1], inputs=[sys.argv[2]], output=sys.argv[3])
"""


def run_engine(spec: Path, data: Path, out: Path) -> Measured:
    target = out / "assay"
    shutil.rmtree(target, ignore_errors=True)
    wall, peak, rc, _, stderr = measure([PYTHON, "-c", ENGINE, str(spec), str(data / "*.csv"),
                                         str(target)])
    result = Measured("assay", wall, peak, rc)
    if rc != 0:
        result.error = "\n".join(stderr.strip().splitlines()[-15:])
    return result


TARGET = 2.0  # issue 15: assay's engine at most twice DuckDB's time on the same files


def job_spec(out: Path, address: str, block_size: str, partition_bytes: str,
             shuffle_blocks: int, shuffle: str = "auto") -> Path:
    """The standard job with blocks and dedup partitions sized for small workers (and
    ``shuffle_blocks`` of them joined into each input of its shuffle), joining the
    scheduler at ``address`` and shuffling as ``shuffle`` says (``cluster.shuffle``)."""
    spec = yaml.safe_load((JOB / "pipeline.yaml").read_text())
    spec["source"]["block_size"] = block_size
    for step in spec["steps"]:
        if step["op"] == "dedup":
            step["partition_bytes"] = partition_bytes
            step["shuffle_blocks"] = shuffle_blocks
    spec["sink"]["target_shard_bytes"] = partition_bytes
    spec["cluster"] = {"address": address, "shuffle": shuffle}
    path = out / "pipeline.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


class RssPoller:
    """Peak RSS of each worker process, sampled every POLL_SECONDS in a thread."""

    def __init__(self, pids: dict[str, int]):
        self.processes = {address: psutil.Process(pid) for address, pid in pids.items()}
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for address, process in self.processes.items():
                # a restarted worker's old process is gone: the check after the run says so
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.peaks[address] = max(self.peaks[address], process.memory_info().rss)
            time.sleep(POLL_SECONDS)

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def restarts(cluster: CliCluster, before: dict[str, int]) -> list[str]:
    """Workers that are gone or came back as a new process, and memory kills in the logs."""
    after = cluster.worker_pids()
    problems = [f"worker {a} (pid {p}) gone or restarted" for a, p in before.items()
                if after.get(a) != p]
    for log in sorted(cluster.folder.glob("worker-*.log")):
        problems += [f"{log.name}: {line.strip()}" for line in log.read_text().splitlines()
                     if "exceeded" in line and "memory" in line]
    return problems


def pauses(cluster: CliCluster) -> dict[str, int]:
    """How many times each worker paused for memory, from its log."""
    return {log.stem: log.read_text().count("Pausing worker")
            for log in sorted(cluster.folder.glob("worker-*.log"))}


def report(result: dict[str, Any]) -> str:
    m = result["measured"]
    lines = [
        f"input {format_bytes(result['input_bytes'])} in {result['input_files']} CSV files; "
        f"workers {result['workers']} x {format_bytes(result['memory_limit'])} = "
        f"{format_bytes(result['worker_memory'])}; ratio {result['ratio']:.1f}x",
        f"assay engine on the cluster: {m['wall_s']:.1f} s wall, "
        f"client process peak {m['client_peak_mib']:.0f} MiB",
        "peak RSS per worker: " + ", ".join(f"{v / 2**20:.0f} MiB"
                                            for v in m["worker_peak_rss"].values()),
        f"spilled by workers: {format_bytes(m['spilled_bytes'])}; "
        f"p2p shuffle on disk: {format_bytes(m['p2p_disk_bytes'])}",
        f"rows read {m['counts']['read']:,}, curated {m['counts']['curated']:,}, "
        f"quarantined {m['counts']['quarantined']:,}, duplicates removed "
        f"{m['counts']['duplicates']:,}",
        f"DuckDB on the same files: {result['duckdb']} "
        f"({'agree' if result['agree'] else 'DISAGREE'}, {result['duckdb_wall_s']:.1f} s)",
        f"pauses per worker: {result['pauses']}; "
        f"workers restarted or killed: {result['restarts'] or 'none'}",
    ]
    ratio = m["wall_s"] / result["duckdb_wall_s"]
    lines.append(f"  {'PASS' if ratio <= TARGET else 'FAIL'}  out of core "
                 f"({result['ratio']:.1f}x the workers' memory, shuffle "
                 f"{result['shuffle']}): assay / DuckDB, wall: {ratio:.2f}x "
                 f"(target <= {TARGET:g}x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=30, help="distinct uploads")
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows per upload")
    parser.add_argument("--copies", type=int, default=2, help="uploads sent twice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="512MiB", help="per worker")
    parser.add_argument("--block-size", default="8MiB")
    parser.add_argument("--partition-bytes", default="8MiB", help="dedup.partition_bytes")
    parser.add_argument("--shuffle-blocks", type=int, default=2, help="dedup.shuffle_blocks")
    parser.add_argument("--shuffle", default="auto", choices=["auto", "files", "p2p"],
                        help="cluster.shuffle (auto: through files, the workers being local)")
    parser.add_argument("--no-pause", action="store_true",
                        help="switch Dask's pause (80%%) and the nanny's kill (95%%) off: "
                        "the limit then only drives spilling")
    parser.add_argument("--plain-workers", action="store_true",
                        help="leave out the worker environment assay documents")
    parser.add_argument("--json", type=Path, default=BENCH / "out" / "out_of_core.json")
    args = parser.parse_args(argv)

    data = ensure_data(args.files, args.rows, args.copies, args.seed)
    out = BENCH / "out" / "out_of_core"
    input_bytes = sum(p.stat().st_size for p in data.glob("*.csv"))
    worker_memory = args.workers * parse_bytes(args.memory_limit)
    # p2p's buffers default to 1 GiB (comms) and 100 MiB (disk) per worker: sized for big
    # workers, so a small worker gets small ones, as a deployment would configure them
    config = {"DASK_DISTRIBUTED__P2P__COMM__BUFFER": "16MiB",
              "DASK_DISTRIBUTED__P2P__STORAGE__BUFFER": "16MiB"}
    if not args.plain_workers:
        config |= worker_environment()
    if args.no_pause:
        config |= {"DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "False",
                   "DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE": "False"}
    shutil.rmtree(out / "cluster", ignore_errors=True)
    with dask_cli_cluster(out / "cluster", args.workers, args.memory_limit, config) as cluster:
        spec = job_spec(out, cluster.address, args.block_size, args.partition_bytes,
                        args.shuffle_blocks, args.shuffle)
        pids = cluster.worker_pids()
        with RssPoller(pids) as poller:
            run = run_engine(spec, data, out)
        disk = cluster.disk_writes()
        problems = restarts(cluster, pids)
        paused = pauses(cluster)
    if run.returncode != 0:  # a killed engine leaves no error text
        print(f"assay failed (exit {run.returncode}):\n{run.error}", file=sys.stderr)
        return 1
    peer = run_peer("duckdb", data, out)
    counts = assay_counts(out / "assay")
    result = {
        "job": "out_of_core",
        "environment": environment(),
        "input_files": len(list(data.glob("*.csv"))),
        "input_bytes": input_bytes,
        "workers": args.workers,
        "memory_limit": parse_bytes(args.memory_limit),
        "worker_memory": worker_memory,
        "ratio": input_bytes / worker_memory,
        "block_size": args.block_size,
        "partition_bytes": args.partition_bytes,
        "shuffle_blocks": args.shuffle_blocks,
        "shuffle": args.shuffle,
        "worker_config": config,
        "measured": {
            "wall_s": run.wall_s, "client_peak_mib": run.peak_mib,
            "worker_peak_rss": poller.peaks, "spilled_bytes": disk["spilled"],
            "p2p_disk_bytes": disk["p2p"], "counts": counts,
        },
        "duckdb": peer.counts,
        "duckdb_wall_s": peer.wall_s,
        "agree": peer.counts == counts,
        "pauses": paused,
        "restarts": problems,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"\nresults: {args.json}")
    return 0 if result["agree"] and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
