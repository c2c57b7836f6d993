"""Connected components of the verified edges, computed on the Dask cluster.

Each node holds a parent (itself at first); a round is two Dask shuffles' worth of merges:

- *hook*: for every edge ``(u, v)`` with parents ``pu``, ``pv``, the smaller
  ``m = min(pu, pv)`` is proposed to ``u``, ``v``, ``pu`` and ``pv``; each node takes the
  smallest of its parent and its proposals;
- *shortcut*: each node's parent becomes its parent's parent.

Parents only decrease and stay in the node's component. When a round changes no parent,
every edge joins nodes with one parent and every parent is its own parent: each component
is a star around its smallest node, which is the label. Mins only, so the labels do not
depend on how the edges are partitioned or ordered; rounds grow with the logarithm of a
component's diameter in practice (hooking moves whole stars, shortcutting halves paths).

Rounds are data-dependent, so each round is persisted on the workers and one number (the
parents that changed) comes back to the client: no table is collected, and no stage runs in
one task.

An edge set of at most ``SMALL_EDGES`` edges (every run below half a million near-duplicate
pairs) is labelled in one task instead (``label_nodes``): the same hook and shortcut rounds
over numpy arrays, so the same labels, without the dozens of shuffles the Dask rounds cost
(each a fixed cost of tasks and messages however few the edges). The task's memory is bounded
by ``SMALL_EDGES``, not by the corpus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dask
import numpy as np

from assay.transforms import frame as fr

if TYPE_CHECKING:  # imported where used (see concat)
    import dask.dataframe as dd

NODE, PARENT = "node", "parent"
MAX_ROUNDS = 64  # far above what hooking and shortcutting need (log of the diameter)
SMALL_EDGES = 1 << 19  # edges labelled in one task: ~60 MiB of temporaries at most
# (``_cluster_table``: about 27 MiB per 2**18 edges, so 2**21 would peak near 250 MiB)


def label_nodes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct nodes of the edges ``(a, b)`` (int64 arrays), ascending, and each one's
    label: the smallest node of its component (hook and shortcut rounds, as on the
    cluster, over the nodes' ranks)."""
    nodes, ends = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = ends[:len(a)], ends[len(a):]
    parent = np.arange(len(nodes))
    for _ in range(MAX_ROUNDS):
        pu, pv = parent[u], parent[v]
        lower = np.minimum(pu, pv)
        hooked = parent.copy()
        for end in (u, v, pu, pv):
            np.minimum.at(hooked, end, lower)
        hooked = hooked[hooked]
        if np.array_equal(hooked, parent):
            return nodes, nodes[parent]
        parent = hooked
    raise RuntimeError(f"near_dedup: clusters did not settle in {MAX_ROUNDS} rounds")


def _proposals(edges: dd.DataFrame, parents: dd.DataFrame, partitions: int) -> dd.DataFrame:
    """(node, proposal) rows: every edge's smaller parent, proposed to both ends and to
    both ends' parents."""
    with_a = edges.merge(parents.rename(columns={NODE: "a", PARENT: "pa"}), on="a",
                         npartitions=partitions)
    both = with_a.merge(parents.rename(columns={NODE: "b", PARENT: "pb"}), on="b",
                        npartitions=partitions)
    return both.map_partitions(_propose, meta={NODE: "int64", "proposal": "int64"})


def _propose(part: Any) -> Any:
    lower = part[["pa", "pb"]].min(axis=1)
    frames = [part[[end]].set_axis([NODE], axis=1).assign(proposal=lower)
              for end in ("a", "b", "pa", "pb")]
    return fr.library(part).concat(frames, ignore_index=True)


def _round(edges: dd.DataFrame, parents: dd.DataFrame, partitions: int
           ) -> tuple[dd.DataFrame, dd.Series]:
    """One hook and one shortcut: the new parents and the number that changed."""
    best = _proposals(edges, parents, partitions).groupby(NODE).proposal.min(
        split_out=partitions).reset_index()
    hooked = parents.merge(best, on=NODE, how="left", npartitions=partitions)
    hooked = hooked.assign(old=hooked[PARENT],
                           **{PARENT: hooked[[PARENT, "proposal"]].min(axis=1).astype("int64")})
    grand = hooked[[NODE, PARENT]].rename(columns={NODE: PARENT, PARENT: "grand"})
    jumped = hooked.merge(grand, on=PARENT, how="left", npartitions=partitions)
    jumped = jumped.assign(**{PARENT: jumped["grand"]})
    changed = (jumped[PARENT] != jumped["old"]).sum()
    return jumped[[NODE, PARENT]], changed


def components(edges: dd.DataFrame, partitions: int) -> dd.DataFrame:
    """(node, label) for every node of ``edges`` (int64 columns ``a``, ``b``), ``label``
    the smallest node of its component; persisted on the workers."""
    ends = concat([edges[["a"]].rename(columns={"a": NODE}),
                      edges[["b"]].rename(columns={"b": NODE})])
    nodes = ends.drop_duplicates(split_out=partitions)
    parents = nodes.assign(**{PARENT: nodes[NODE]})
    (parents,) = persisted(parents)
    for _ in range(MAX_ROUNDS):
        new, changed = _round(edges, parents, partitions)
        new, changed = persisted(new, changed)
        parents = new
        if int(np.asarray(changed.compute())) == 0:
            return parents.rename(columns={PARENT: "label"})
    raise RuntimeError(f"near_dedup: clusters did not settle in {MAX_ROUNDS} rounds")


def persisted(*collections: Any) -> tuple[Any, ...]:
    """``dask.persist``, returning once the results exist.

    Why wait: a LocalCluster's scheduler runs in this process and materializes each graph
    in its offload thread. On Python 3.11 ``functools.cached_property`` holds one lock per
    property for every instance (3.12 dropped it), and dask-expr caches ``divisions`` and
    friends that way: lowering the next graph here while the scheduler still materializes
    the previous one, built from the same expressions, took those locks in opposite orders
    and hung a run (seen in the test suite: main thread in ``Client.persist``, the offload
    thread in ``P2PShuffle._layer``). Each persist here is needed before the stages after
    it anyway."""
    from distributed import futures_of, wait

    done = dask.persist(*collections)
    if futures := futures_of(done):
        wait(futures)
    return done


def concat(frames: list[dd.DataFrame]) -> dd.DataFrame:
    """``dask.dataframe.concat``, imported on first use (importing it tries to import
    CuPy, which a CPU process must not)."""
    from dask.dataframe import concat as dask_concat

    return dask_concat(frames)
