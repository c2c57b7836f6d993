"""Runs that fit in memory without a cluster: the same graph on Dask's threaded scheduler,
in the run's own process.

A local cluster costs a 10-row run about 0.5 s on the 2-core development machine: importing
``distributed`` (0.25 s), starting and stopping the scheduler and its workers, and the
scheduler's round trips between tasks. On large inputs it costs too: the scheduler and the
worker share the run's process and its GIL with the tasks, and every result is measured and
tracked. The standard job on Dask's threaded scheduler, same threads, took 8-15% less wall
and 10% less CPU than on the local cluster at 4M and 16M rows, with a 10-20% lower peak
(``benchmarks/RESULTS.md``, issue 15). What the cluster gives in exchange is memory
management: workers with a limit, spilling to disk, a p2p shuffle that streams through
disk, so an input larger than memory still goes through.

So a run computes here when its input is small enough to sit in memory many times over:
below ``cluster.in_process_below``, by default (``auto``) when what it will hold
(``memory_estimate``) is below an eighth of the machine's memory (as Dask reads it: cgroup
and rlimit limits count), and always below 4 MiB of uploads. The estimate is the uploads'
decoded bytes (a Parquet file's uncompressed column chunks from its footer, so a dictionary
column counts as encoded; a compressed CSV or JSONL file's taken as
``COMPRESSED_EXPANSION`` times its size), times ``TEXT_STEP_FACTOR`` when a step holds
large temporaries per character (the text steps): ``near_dedup`` held about 3.6 times its
text at 50,000 documents, ten times its zstd Parquet, which an eighth of memory counted in
file bytes would have let reach all of it. The graph is the same and nothing in it depends
on the workers, so the shards, the quarantine and the accounting are byte for byte those of
a cluster run (a test holds both to it).

A run keeps its cluster when it names one (an address), runs on cuDF, asks for worker
processes (isolation is what that key is for) or sets a worker ``memory_limit`` (a bound is
what the cluster is for).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import dask
import pyarrow as pa
from dask.system import CPU_COUNT
from dask.threaded import get as threaded_get

from assay.pipelines import heap

if TYPE_CHECKING:
    from collections.abc import Callable

    from assay.pipelines.plan import RunPlan
    from assay.pipelines.spec import ClusterSpec

log = logging.getLogger(__name__)

SMALL = 4 << 20  # bytes of input always computed here with the default ``auto``
MEMORY_SHARE = 8  # ``auto``: estimates up to this fraction of the machine's memory
COMPRESSED_EXPANSION = 5  # a gzip, zstd, bz2 or xz CSV/JSONL file's decoded bytes per byte
TEXT_STEP_FACTOR = 4  # a run with a text step holds this many times its decoded input
_DASK_SYSTEM = "distributed.system"  # where Dask's workers read the machine's memory


def summary_line(threads: int) -> str:
    """The summary's ``cluster`` row for a run computed here."""
    return f"none: computed in this process, {threads} thread(s)"


def runs_in_process(cluster: ClusterSpec, plan: RunPlan, backend: str,
                    address: str | None) -> bool:
    """Whether the planned run is small enough to skip the cluster, and allowed to."""
    return computes_in_process(cluster, _input_bytes(plan), backend, address,
                               memory_estimate(plan))


def computes_in_process(cluster: ClusterSpec, size: int, backend: str = "pandas",
                        address: str | None = None, held: int | None = None) -> bool:
    """Whether a run of ``size`` bytes of input skips the cluster (see the module
    docstring); ``address``: a scheduler named on the command line; ``held``: the bytes the
    run will hold, which ``auto`` compares with memory (``size`` when not given)."""
    if address or cluster.address or cluster.processes or backend != "pandas":
        return False
    if cluster.in_process_below != "auto":
        return size < cluster.in_process_below
    if size < SMALL:
        return True
    held = size if held is None else held
    return cluster.memory_limit == "auto" and held < _machine_memory() // MEMORY_SHARE


def memory_estimate(plan: RunPlan) -> int:
    """The bytes a run of ``plan`` holds, about (see the module docstring)."""
    decoded = 0
    for upload in plan.inputs:
        if upload.decoded_size is not None:
            decoded += upload.decoded_size
        elif upload.found.compression:
            decoded += upload.found.size * COMPRESSED_EXPANSION
        else:
            decoded += upload.found.size
    heavy = any(step.heap_temporaries for step in plan.spec.steps)
    return decoded * (TEXT_STEP_FACTOR if heavy else 1)


@functools.cache
def _machine_memory() -> int:
    """The memory this process may use, as Dask's workers read it (psutil, cgroups v1 and
    v2, RLIMIT_RSS): ``distributed.system``'s own rule. Its module needs only psutil, so it
    is run from its file when ``distributed`` is not imported yet: importing the package
    costs a run in process 0.15 s (the 4M-row standard job: 2% of its wall) for one
    number. Should the module come to need the rest of its package, it is imported."""
    loaded = sys.modules.get(_DASK_SYSTEM)
    if loaded is None:
        try:
            loaded = _module_from_file(_DASK_SYSTEM, "assay._dask_system")
        except ImportError:
            loaded = importlib.import_module(_DASK_SYSTEM)
    return loaded.MEMORY_LIMIT


def _module_from_file(name: str, alias: str) -> ModuleType:
    """Run module ``name``'s file as module ``alias``, without importing its package (a
    package's ``find_spec`` only locates it)."""
    package, _, leaf = name.rpartition(".")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ImportError(f"no package {package}")
    path = Path(found.submodule_search_locations[0]) / f"{leaf}.py"
    spec = importlib.util.spec_from_file_location(alias, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ImportError(f"no module file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _input_bytes(plan: RunPlan) -> int:
    return sum(upload.found.size for upload in plan.inputs)


def thread_count(cluster: ClusterSpec, workers: int | None = None) -> int:
    """The threads a local cluster of the same spec (``workers``: ``--workers``) would have
    in all: every core (as Dask counts them, cgroup quotas included) unless
    ``threads_per_worker`` says otherwise."""
    if cluster.threads_per_worker:
        return (workers or cluster.workers or 1) * cluster.threads_per_worker
    return CPU_COUNT


@contextmanager
def in_process(plan: RunPlan, threads: int) -> Iterator[None]:
    """The planned run computed here (``threaded``), and logged as such."""
    log.info("run %s: %d bytes of input, computed in this process on %d thread(s) (below "
             "cluster.in_process_below: no cluster started)", plan.run_id,
             _input_bytes(plan), threads)
    with threaded(threads, gated=bool(plan.spec.gates)):
        yield


@contextmanager
def threaded(threads: int, gated: bool = False) -> Iterator[None]:
    """Everything computed inside, building a run's graph included (near_dedup's rounds),
    goes to the threaded scheduler, even where this process has a default client. The
    scheduler is given as a function, not by its name: a name makes Dask import
    ``distributed`` (0.25 s) to look for a client. The task shuffle hands partitions over
    by reference (p2p needs a distributed cluster). A ``gated`` run keeps freed memory in
    the heap meanwhile (``assay.pipelines.heap``)."""
    config = {"scheduler": threaded_get, "num_workers": threads,
              "dataframe.shuffle.method": "tasks"}
    with dask.config.set(config), arrow_system_pool(), heap.kept(gated):
        yield


@contextmanager
def arrow_system_pool() -> Iterator[None]:
    """pyarrow's pool as the system allocator while tasks run as threads of this process
    (what worker processes get from their environment: ``assay.pipelines.workers``),
    restored after. mimalloc's returned and re-faulted pages cost the 4M-row standard job
    about 1.2 s of system time in 13 s of CPU (``benchmarks/RESULTS.md``, issue 15)."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


class _PartitionCounter:
    """Calls ``on_progress(done, total)`` as each partition of the counted collection
    finishes (from the scheduler's threads, one at a time)."""

    def __init__(self, total: int, on_progress: Callable[[int, int], None]) -> None:
        self.total, self.done, self.on_progress = total, 0, on_progress
        self.lock = threading.Lock()

    def __dask_tokenize__(self) -> tuple[str, int]:  # not its bar, which Dask would pickle
        return ("assay-partition-counter", id(self))

    def __call__(self, part: Any) -> Any:
        with self.lock:
            self.done += 1
            self.on_progress(self.done, self.total)
        return part


def compute(collections: list, on_progress: Callable[[int, int], None] | None) -> list:
    """The collections' results, in one ``dask.compute`` (shared work is done once);
    progress is the first collection's partitions as each finishes."""
    first, *rest = collections
    if on_progress:
        on_progress(0, first.npartitions)
        counter = _PartitionCounter(first.npartitions, on_progress)
        first = first.map_partitions(counter, meta=first._meta, enforce_metadata=False)
    return list(dask.compute(first, *rest))
