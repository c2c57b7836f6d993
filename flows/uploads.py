"""Ingesting the uploads in the ledger, one published version each, exactly once.

A deployment's run gets either one upload (``upload_id``, from an intake's event) or a sweep
(a scheduled run): register the spec's source files the ledger has not seen (by content
hash), then ingest every outstanding upload of the pipeline, so whatever a crash or a lost
trigger left behind is retried. Each upload is claimed in the ledger first: an upload
published, rejected or held by a live run is acknowledged and skipped.

The dataset's Delta log, not the ledger, is the truth for "published": a claimed upload
the table already holds (its run died between the commit and the ledger's update) is
marked published with the version its commit made, and not appended again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from assay.pipelines.errors import AlreadyPublished, AssayError, GateAborted, UploadRejected
from assay.pipelines.ledger import Ledger, content_sha256
from assay.pipelines.sources.discover import discover
from assay.pipelines.spec import PipelineSpec
from assay.pipelines.summary import RunSummary

RunInputs = Callable[[list[str]], RunSummary]
PublishedIn = Callable[[str], int | None]  # an upload's sha256 -> the version holding it
# the data is at fault: the same bytes would fail again, so they are not retried
_VERDICTS = (UploadRejected, GateAborted)


def ingest_uploads(spec: PipelineSpec, ledger: Ledger, run_inputs: RunInputs,
                   published_in: PublishedIn, upload_id: str | None = None,
                   sweep: bool = False) -> RunSummary | None:
    """Ingest one upload, or sweep the pipeline's outstanding ones; the last run's summary
    (None when there was nothing left to ingest)."""
    if sweep:
        _register_sources(spec, ledger)
    if upload_id is not None:
        targets = [upload_id]
    else:
        targets = [u.id for u in ledger.outstanding(spec.name)]
    last = None
    for target in targets:
        last = _ingest_one(spec, ledger, target, run_inputs, published_in) or last
    return last


def _register_sources(spec: PipelineSpec, ledger: Ledger) -> None:
    """The spec's own source files become uploads (by content: a file already seen, under
    any name, is not ingested again)."""
    options = spec.source.storage_options
    try:
        found = discover([spec.resolve(p) for p in spec.source.paths], spec.source.format,
                         options)
    except UploadRejected as exc:  # an empty source folder: nothing new to sweep
        get_run_logger().info("sweep: %s", exc)
        return
    for item in found:
        digest = content_sha256(item.url, options)
        ledger.register(spec.name, digest, item.size, item.url, name=Path(item.path).name)


def _ingest_one(spec: PipelineSpec, ledger: Ledger, upload_id: str,
                run_inputs: RunInputs, published_in: PublishedIn) -> RunSummary | None:
    logger = get_run_logger()
    upload = ledger.get(upload_id)
    if upload is None or upload.pipeline != spec.name:
        raise AssayError(f"upload {upload_id}: not an upload of pipeline {spec.name!r} "
                         f"in the ledger at {ledger.path}")
    claimed = ledger.claim(upload_id, flow_run_id=str(flow_run.id or "") or None)
    if claimed is None:
        state = (ledger.get(upload_id) or upload).state
        logger.info("upload %s is %s: acknowledged, not ingested again", upload_id, state)
        return None
    version = published_in(claimed.sha256)
    if version is not None:
        ledger.finish(upload_id, "published", version=str(version))
        logger.info("upload %s is in the table (version %s): ledger reconciled", upload_id,
                    version)
        return None
    try:
        summary = run_inputs([claimed.uri])
    except AlreadyPublished as exc:  # a commit landed between the check and the run
        ledger.finish(upload_id, "published", version=str(exc.version))
        return None
    except _VERDICTS as exc:
        ledger.finish(upload_id, "rejected", reason=str(exc))
        raise
    except Exception as exc:
        ledger.finish(upload_id, "failed", reason=f"{type(exc).__name__}: {exc}")
        raise
    ledger.finish(upload_id, "published", version=str(summary.version))
    logger.info("upload %s published as version %s", upload_id, summary.version)
    return summary
