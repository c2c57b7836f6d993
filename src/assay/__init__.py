"""assay: raw uploads in, curated and validated Parquet datasets out.

The public Python API: ``run`` publishes a version of a dataset, ``open_dataset`` reads one.
Importing ``assay`` is cheap: the engine (Dask, pandas, pyarrow, deltalake) is imported when
a function here is first called, so the command line and the workers pay only for what they
use. The layers are subpackages: ``assay.pipelines`` (the engine),
``assay.transforms``, ``assay.validation`` and ``assay.flows`` (Prefect and the CLI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from os import PathLike

    from assay.dataset import Dataset, open_dataset
    from assay.pipelines.compose import RunResult
    from assay.pipelines.spec import PipelineSpec

__version__ = "0.1.0"


def run(
    spec: str | PathLike[str] | PipelineSpec,
    inputs: Sequence[str] | None = None,
    output: str | None = None,
    *,
    backend: str | None = None,
    workers: int | None = None,
    cluster_address: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> RunResult:
    """Run a pipeline without Prefect and publish a new version of its dataset.

    ``spec`` is a spec file's path or a loaded ``PipelineSpec``; ``inputs`` (paths, globs or
    fsspec URLs) replace its ``source.paths`` and ``output`` its ``sink.path``. ``backend``
    (``auto``, ``pandas`` or ``cudf``) replaces the spec's. The run starts a local Dask
    cluster of ``workers`` (or the spec's ``cluster``), joins the scheduler at
    ``cluster_address``, or uses a ``distributed.Client`` you pass. It holds the dataset's
    lock while it runs, so two runs on one sink publish one after the other.
    Returns the published version (``version``, ``path``, ``manifest``) and the run's
    ``summary``; raises an ``assay.pipelines.errors.AssayError`` subclass for a bad spec, a
    rejected upload, a gate abort or failed storage, with one line naming the cause.
    """
    from assay.pipelines import compose

    request = compose.load(spec, inputs=inputs, output=output, backend=backend,
                           workers=workers, cluster_address=cluster_address)
    return compose.run_all(request, on_progress=on_progress, client=client)


def __getattr__(name: str) -> Any:
    """``open_dataset`` and ``Dataset`` load on first use, so ``import assay`` stays on the
    standard library (PEP 562)."""
    if name in ("Dataset", "open_dataset"):
        from assay import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'assay' has no attribute {name!r}")


__all__ = ["Dataset", "__version__", "open_dataset", "run"]
