"""Whether a run on a cluster shuffles through files (``assay.transforms.exchange``), and
the folder it does so in, made for the run and removed after it.

The files exchange needs every worker to open the files the others wrote, so it is only
chosen where each worker sees the folder this process made: a local cluster's worker
processes, or a scheduler whose workers all run on this machine. Workers that are threads
of this process keep Dask's task shuffle (partitions handed over by reference), cuDF
partitions Dask's shuffles, and workers elsewhere p2p.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import dask
from distributed import Client

from assay.pipelines.backend import BackendUnavailable
from assay.pipelines.spec import ClusterSpec
from assay.transforms.exchange import FOLDER

log = logging.getLogger("assay.backend")


def wants_files(cluster: ClusterSpec, backend: str, remote: bool) -> bool:
    """Whether the run should shuffle through files, if its workers share the folder."""
    if cluster.shuffle == "files" and backend == "cudf":
        raise BackendUnavailable("cluster.shuffle: 'files' is for the pandas backend (cuDF "
                                 "partitions shuffle by 'tasks' or 'p2p')")
    if cluster.shuffle == "auto":  # files take over where Dask's own choice is p2p
        return backend != "cudf" and cluster.shuffle_method(remote) == "p2p"
    return cluster.shuffle == "files"


@contextmanager
def shuffle_folder(client: Client, cluster: ClusterSpec, backend: str,
                   remote: bool) -> Iterator[None]:
    """Inside, dedup shuffles through a fresh folder when the run wants files and
    every worker sees it (else Dask's shuffle, or an error where the spec asked for files);
    the folder and what the shuffles wrote are removed on the way out."""
    if not wants_files(cluster, backend, remote):
        yield
        return
    folder = tempfile.mkdtemp(prefix="assay-shuffle-",
                              dir=dask.config.get("temporary-directory", None))
    try:
        seen = client.run(os.path.isdir, folder)
        blind = sorted(worker for worker, sees in seen.items() if not sees)
        if blind or not seen:
            why = (f"worker(s) {', '.join(blind)} did not see it" if blind
                   else "no worker was connected to look")
            if cluster.shuffle == "files":
                raise BackendUnavailable(
                    f"cluster.shuffle: 'files' needs every worker to see {folder}: {why} "
                    "(workers on other machines shuffle by 'p2p')")
            log.info("dedup: shuffle by p2p, %s (%s)", why, folder)
            yield
            return
        log.info("dedup: shuffle through files in %s", folder)
        with dask.config.set({FOLDER: folder}):
            yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
