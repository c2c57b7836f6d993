"""Settings that keep a Dask worker's own memory small and flat, so its memory limit is left
for data.

Dask pauses a worker at 80% of its limit and the nanny kills it at 95%, counting the whole
process, not just the data it can spill. What a worker holds beyond its data was measured
on the standard job; the figures are in ``benchmarks/RESULTS.md`` (issue 7, out of core):

- Dask's statistical profiler samples every thread's stack each 10 ms and keeps the last
  1,000 one-second profiles, with the source lines of every sampled file cached: it grows
  with run time, not with data.
- pyarrow's default pool (mimalloc) keeps freed pages mapped, where the system allocator's
  frees are trimmed by Dask's nanny (``MALLOC_TRIM_THRESHOLD_``).
- glibc gives each thread (the task thread, p2p's comm and disk threads) an arena of its
  own, and trims only the main one: with one arena a worker's unmanaged memory was lower
  and it spilled less.
- Setting ``MALLOC_TRIM_THRESHOLD_`` (the nanny does) also switches off glibc's sliding
  mmap threshold, so every allocation of 128 KiB or more is a fresh ``mmap``, faulted in
  page by page and unmapped when freed. numpy kernels that make many temporary arrays of
  a few MiB (the text steps' tokenizers, n-gram hashing) then spent as much time in the
  kernel as in their own code: 1.7x slower than in a plain process. A fixed threshold
  keeps those arrays in the heap, which the trim still shrinks; but a heap also keeps what
  it cannot trim, so the threshold is a trade of memory for page faults. Every CPU worker
  gets 4 MiB: the tabular out-of-core job's workers spent 37% of their CPU in the kernel's
  page faults with the nanny's default. On its 1.6x run 4 MiB saved 22% of the wall and
  8 MiB 31%, nothing spilled; but on the 10x run, with ``TrimHeapBeforeSpilling`` (below),
  both saved 13% and 8 MiB spilled 14.7 GiB where 4 MiB spilled 0.7 GiB (the nanny's
  default: 0.3 GiB). A run with a step that declares ``heap_temporaries`` (the text
  steps) gives its workers 16 MiB, which its kernels' arrays need (4 MiB cost them 30% more
  CPU; ``benchmarks/RESULTS.md``, issues 15 and 16).

- A p2p shuffle sends up to ``distributed.p2p.comm.concurrency`` messages at once, and the
  receiving worker holds every one in flight outside the data Dask counts: with Dask's 10,
  a near_dedup of 500,000 documents on two workers peaked at 950-1,090 MiB per worker,
  with 2 at 720-760 MiB, for the same CPU time (``benchmarks/RESULTS.md``, issue 16).

- ``dask.dataframe`` imports ``dask.array``, which imports SciPy for array features assay
  never uses: 18 MiB of a worker at rest (163 against 145 MiB with pandas and pyarrow).
  Process workers import it the way the CLI does (``assay.pipelines.lean_dask``) before a
  run's first task.

What remains is the libraries (pandas, pyarrow, dask.dataframe) and each task's working
memory.

Assay applies these to the CPU workers it starts; ``dask worker`` processes that a user
starts get them as environment variables (``worker_environment``), as docs/scaling-out.md
says. Every run, on workers it starts or joins, registers the ``PLUGINS``; a run on a
cluster it joined takes them away when it ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from distributed import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from assay.pipelines import heap
from assay.pipelines.lean_dask import import_dask_lean

# read by the worker process before pyarrow is imported: the nanny sets it before spawning
WORKER_ENVIRON = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "1",
                  "MALLOC_MMAP_THRESHOLD_": str(4 << 20)}
HEAP_TEMPORARIES_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": str(16 << 20)}
PROFILER = "distributed.worker.profile.enabled"
# Dask configuration of every CPU worker: no profiler, and at most 2 p2p shuffle messages in
# flight at once (Dask's default: 10); see above
WORKER_CONFIG = {PROFILER: False, "distributed.p2p.comm.concurrency": 2}


def local_cluster_config(backend: str = "pandas", heap_temporaries: bool = False
                         ) -> dict[str, Any]:
    """Dask configuration to start a local cluster under: its nannies read the environment
    for their worker processes, and every worker the profiler switch. A cuDF worker keeps
    its data on the GPU and runs many threads in one process (one per partition in flight),
    so it keeps glibc's arenas and pyarrow's pool, which let those threads allocate without
    taking turns. ``heap_temporaries``: a step of the run declares it (see above)."""
    if backend == "cudf":
        return {PROFILER: False}
    chosen = WORKER_ENVIRON | (HEAP_TEMPORARIES_ENVIRON if heap_temporaries else {})
    environ = {f"distributed.nanny.pre-spawn-environ.{name}": value
               for name, value in chosen.items()}
    return {**WORKER_CONFIG, **environ}


# the workers' variables as this process was started with them (None: unset)
_STARTED_WITH = {name: os.environ.get(name)
                 for name in {*WORKER_ENVIRON, *HEAP_TEMPORARIES_ENVIRON}}


@contextmanager
def environment_as_started() -> Iterator[None]:
    """The workers' variables back to what this process started with while a local
    cluster starts and runs: Dask's nanny writes its pre-spawn environment into this
    process's ``os.environ``, and lets that environment override the configuration, so
    the first cluster's settings would be every later cluster's in one process (the
    daemon, the tests): a text run's 16 MiB threshold after a tabular run's 4 MiB. A
    variable the user set keeps the user's value, as Dask means it to; after the cluster,
    what the nanny wrote is taken back (processes this one starts later inherit it)."""
    _restore_started()
    try:
        yield
    finally:
        _restore_started()


def _restore_started() -> None:
    for name, value in _STARTED_WITH.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def worker_environment() -> dict[str, str]:
    """The same settings as environment variables for ``dask worker`` processes."""
    config = {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
              for key, value in WORKER_CONFIG.items()}
    return config | WORKER_ENVIRON


class ImportDaskLean(WorkerPlugin):
    """Import ``dask.dataframe`` without SciPy on a worker that has not imported it yet
    (see above); a worker that has keeps what it has. SciPy looks uninstalled while the
    import runs, so only a worker running no task does it: the event loop that would start
    one waits for this setup, and a task of someone else's on a shared cluster cannot
    fail to import SciPy meanwhile."""

    name = "assay-import-dask-lean"

    def setup(self, worker: Any) -> None:
        if not (worker.state.executing or worker.state.long_running):
            import_dask_lean()


class ForgetFinishedTasks(WorkerPlugin):
    """Drop a task's function and arguments once its result is in memory.

    A worker keeps the state of a finished task while a task it fed is held, and a p2p
    shuffle holds its inputs' transfer tasks until every input went through: so each input
    block's whole chain of tasks (arguments, meta frames, specs) stayed on the worker until
    the shuffle's barrier, which stalled small workers on inputs of many blocks (measured:
    ``benchmarks/RESULTS.md``, issue 7, out of core). A task Dask runs again gets its
    arguments again with the order.
    """

    name = "assay-forget-finished-tasks"

    def setup(self, worker: Any) -> None:
        self.tasks = worker.state.tasks

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "memory" and (task := self.tasks.get(key)) is not None:
            task.run_spec = None


# a share of Dask's spill line (``distributed.worker.memory.spill``, else its pause line):
# above it, a worker's free heap goes back to the kernel before Dask spills data for it
TRIM_SHARE_OF_SPILL_LINE = 0.97


class TrimHeapBeforeSpilling(WorkerPlugin):
    """Return a worker's free heap pages to the kernel whenever its memory passes 97% of
    Dask's spill line, checked as often as Dask's own memory monitor.

    Workers keep freed arrays of a few MiB in the heap for the next task (see above), and a
    heap keeps what it cannot trim: with an 8 MiB threshold and no trim, the 10x
    out-of-core run's workers crept to 84% of their limit and Dask spilled 135 GiB of data
    for them (trimmed: 14.7 GiB). Trimming after every task instead gave back most of the
    threshold's gain (the pages were faulted in again), as did trimming above half the
    limit, where a 512 MiB worker spends most of its time. A worker without a memory
    limit, or on another allocator than glibc's, is left alone.
    """

    name = "assay-trim-heap-before-spilling"

    def setup(self, worker: Any) -> None:
        self.callback = None
        manager = worker.memory_manager
        line = manager.memory_spill_fraction or manager.memory_pause_fraction
        if not manager.memory_limit or not line or not manager.memory_monitor_interval:
            return
        most = int(manager.memory_limit * line * TRIM_SHARE_OF_SPILL_LINE)
        self.callback = PeriodicCallback(partial(trim_above, worker.monitor, most),
                                         manager.memory_monitor_interval * 1000)
        self.callback.start()

    def teardown(self, worker: Any) -> None:
        if self.callback is not None:
            self.callback.stop()


def trim_above(monitor: Any, most: int) -> bool:
    """Trim the heap if the process holds more than ``most`` bytes (``monitor``: Dask's
    system monitor, whose reading its memory manager acts on); whether it did."""
    return monitor.get_process_memory() > most and heap.trim()


# registered by every run on the workers it starts or joins
PLUGINS = (ImportDaskLean, ForgetFinishedTasks, TrimHeapBeforeSpilling)
