"""Small runs without a cluster: the same graph on Dask's synchronous scheduler, in the
run's own process.

A local cluster costs a 10-row run about 0.5 s on the 2-core development machine: importing
``distributed`` (0.25 s), starting and stopping the scheduler and its workers, and the
scheduler's round trips between tasks (the graph's 17 tasks are busy 0.3 s of a 0.6 s
engine). Below ``cluster.in_process_below`` bytes of input the run computes the graph here,
one task after the other, instead (``benchmarks/RESULTS.md``, issue 15's fixed cost). The
graph is the same and nothing in it depends on the workers, so the shards, the quarantine
and the accounting are byte for byte those of a cluster run (a test holds both to it).

A run keeps its cluster when it names one (an address), runs on cuDF, or asks for worker
processes (isolation is what that key is for).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dask
from dask.local import get_sync

if TYPE_CHECKING:
    from collections.abc import Callable

    from assay.pipelines.plan import RunPlan
    from assay.pipelines.spec import ClusterSpec

log = logging.getLogger(__name__)

# the summary's "cluster" row for such a run
SUMMARY_LINE = "none: a small input, computed in this process"
# the scheduler as a function, not by its name: a name makes Dask import distributed (0.25
# s) to look for a client; the task shuffle hands partitions over by reference (p2p needs
# a distributed cluster)
SYNCHRONOUS = {"scheduler": get_sync, "dataframe.shuffle.method": "tasks"}


def runs_in_process(cluster: ClusterSpec, plan: RunPlan, backend: str,
                    address: str | None) -> bool:
    """Whether the planned run is small enough to skip the cluster, and allowed to."""
    if address or cluster.address or cluster.processes or backend != "pandas":
        return False
    return _input_bytes(plan) < cluster.in_process_below


def _input_bytes(plan: RunPlan) -> int:
    return sum(upload.found.size for upload in plan.inputs)


@contextmanager
def synchronous(plan: RunPlan) -> Iterator[None]:
    """Everything the run computes, building its graph included (near_dedup's rounds),
    goes to the synchronous scheduler, even where this process has a default client."""
    log.info("run %s: %d bytes of input, computed in this process (below "
             "cluster.in_process_below: no cluster started)", plan.run_id, _input_bytes(plan))
    with dask.config.set(SYNCHRONOUS):
        yield


def compute(collections: list, on_progress: Callable[[int, int], None] | None) -> list:
    """The collections' results; progress is the first collection's partitions, all of
    which finish together here."""
    total = collections[0].npartitions
    if on_progress:
        on_progress(0, total)
    results = list(dask.compute(*collections))
    if on_progress:
        on_progress(total, total)
    return results
