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
  kernel as in their own code: 1.7x slower than in a plain process. A fixed 16 MiB
  threshold keeps those arrays in the heap, which the trim still shrinks; but a heap also
  keeps what it cannot trim, and the out-of-core job's workers, at 512 MiB each, then
  spilled 5.9 GiB where they had spilled nothing. So only a run with a step that declares
  ``heap_temporaries`` (the text steps) gives its workers that threshold
  (``benchmarks/RESULTS.md``, issue 16).

- A p2p shuffle sends up to ``distributed.p2p.comm.concurrency`` messages at once, and the
  receiving worker holds every one in flight outside the data Dask counts: with Dask's 10,
  a near_dedup of 500,000 documents on two workers peaked at 950-1,090 MiB per worker,
  with 2 at 720-760 MiB, for the same CPU time (``benchmarks/RESULTS.md``, issue 16).

What remains is the libraries (pandas, pyarrow and dask.dataframe, which imports
dask.array and scipy) and each task's working memory.

Assay applies these to the CPU workers it starts; ``dask worker`` processes that a user
starts get them as environment variables (``worker_environment``), as docs/scaling-out.md
says. Every run, on workers it starts or joins, registers ``ForgetFinishedTasks``;
a run on a cluster it joined takes the plugin away when it ends.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

# read by the worker process before pyarrow is imported: the nanny sets it before spawning
WORKER_ENVIRON = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "1"}
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


def worker_environment() -> dict[str, str]:
    """The same settings as environment variables for ``dask worker`` processes."""
    config = {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
              for key, value in WORKER_CONFIG.items()}
    return config | WORKER_ENVIRON


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
