"""Ingesting the uploads in the ledger, one published version each, exactly once.

Every run of a served deployment goes through the ledger, whatever its parameters: it gets
one upload (``upload_id``, from an intake's event), some files (``inputs``, a person's
``--param``: each becomes an upload, by content hash), or a sweep (a scheduled run):
register the spec's source files the ledger has not seen, then ingest every outstanding
upload of the pipeline, so whatever a crash or a lost trigger left behind is retried. Each
upload is claimed in the ledger first: an upload published, rejected or held by a live run
is acknowledged and skipped. One upload rejected does not stop the others; the run reports
each upload it could not publish at the end.

The dataset's Delta log, not the ledger, is the truth for "published": a claimed upload
the table already holds (its run died between the commit and the ledger's update) is
marked published with the version its commit made, and not appended again.

Everything a run does is logged to its Prefect run: the files each source pattern matched
(a pattern matching nothing is a warning), which uploads were new, and what became of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from assay.pipelines.confine import Roots
from assay.pipelines.errors import (
    EXIT_REJECTED,
    AlreadyPublished,
    AssayError,
    GateAborted,
    UploadRejected,
)
from assay.pipelines.ledger import Ledger, content_sha256
from assay.pipelines.sources.discover import discover
from assay.pipelines.spec import PipelineSpec
from assay.pipelines.summary import RunSummary

RunInputs = Callable[[list[str]], RunSummary]
PublishedIn = Callable[[str], int | None]  # an upload's sha256 -> the version holding it
# the data is at fault: the same bytes would fail again, so they are not retried
_VERDICTS = (UploadRejected, GateAborted)


@dataclass(frozen=True)
class Wanted:
    """What a run was asked to ingest; the first given wins: one upload (``upload_id``),
    these paths or globs (``inputs``), or a ``sweep``. With none, the outstanding uploads."""

    upload_id: str | None = None
    inputs: tuple[str, ...] = ()
    sweep: bool = False


class UploadsNotIngested(AssayError):
    """Some of a run's uploads (or the files it was given) were not published: one line
    each, with its reason, once the others were ingested."""

    exit_code = EXIT_REJECTED


@dataclass
class _Report:
    """What a run did, for its log and its final answer."""

    published: int = 0
    acknowledged: int = 0
    not_ingested: list[str] = field(default_factory=list)  # "what: why", one per upload
    errors: list[Exception] = field(default_factory=list)


def ingest_uploads(spec: PipelineSpec, ledger: Ledger, run_inputs: RunInputs,
                   published_in: PublishedIn, wanted: Wanted,
                   roots: Roots | None = None) -> RunSummary | None:
    """Ingest what ``wanted`` names; the last published run's summary (None when nothing
    was published). Raise when an upload or a given file was not published: the upload's
    own error when it was the only one, else ``UploadsNotIngested`` naming each."""
    logger = get_run_logger()
    report = _Report()
    if wanted.upload_id is not None:
        if wanted.inputs or wanted.sweep:
            logger.info("upload %s asked for: ingesting it alone (inputs and sweep ignored)",
                        wanted.upload_id)
        targets = [wanted.upload_id]
    elif wanted.inputs:
        targets = _register(spec, ledger, wanted.inputs, roots, report, required=True)
    else:
        if wanted.sweep:
            _register(spec, ledger, [spec.resolve(p) for p in spec.source.paths], roots,
                      report, required=False)
        targets = [u.id for u in ledger.outstanding(spec.name)]
    if not targets:  # routine for a schedule; a pattern matching nothing was a warning
        logger.info("nothing to ingest: no new or outstanding upload of pipeline %r",
                    spec.name)
    last = None
    for target in targets:
        last = _ingest_one(spec, ledger, target, run_inputs, published_in, report) or last
    logger.info("%d published, %d acknowledged (already done or running), %d not ingested",
                report.published, report.acknowledged, len(report.not_ingested))
    if len(report.errors) == 1 and len(targets) == 1 and len(report.not_ingested) == 1:
        raise report.errors[0]
    if report.not_ingested:
        raise UploadsNotIngested(f"pipeline {spec.name}: {len(report.not_ingested)} not "
                                 "ingested:\n" + "\n".join(report.not_ingested))
    return last


def _register(spec: PipelineSpec, ledger: Ledger, patterns: Sequence[str],
              roots: Roots | None, report: _Report, required: bool) -> list[str]:
    """Each file the patterns match becomes an upload (by content: a file already seen,
    under any name, is the upload it was); their ids, in order. A pattern that matches
    nothing is logged, and is a failure of the run when the file was ``required``; a file
    outside the pipeline's roots is refused before it is read."""
    logger = get_run_logger()
    options = spec.source.storage_options
    ids: list[str] = []
    for pattern in patterns:
        if _refused(pattern, roots, report):
            continue
        try:
            found = discover([pattern], spec.source.format, options)
        except UploadRejected as exc:  # nothing matches, or a file of no known format
            logger.warning("%s", exc)
            if required:
                report.not_ingested.append(str(exc))
            continue
        found = [item for item in found if not _refused(item.url, roots, report)]
        new = 0
        for item in found:
            upload, created = ledger.register(spec.name, content_sha256(item.url, options),
                                              item.size, item.url, name=Path(item.path).name)
            new += created
            if upload.id not in ids:
                ids.append(upload.id)
        logger.info("%s: %d file(s), %d new", pattern, len(found), new)
    return ids


def _refused(url: str, roots: Roots | None, report: _Report) -> bool:
    """Whether a served run may not read ``url`` (outside the pipeline's roots): then it is
    reported, and never read, not even to hash it."""
    try:
        if roots is not None:
            roots.check_input(url)
    except UploadRejected as exc:
        get_run_logger().error("%s", exc)
        report.not_ingested.append(str(exc))
        return True
    return False


def _ingest_one(spec: PipelineSpec, ledger: Ledger, upload_id: str, run_inputs: RunInputs,
                published_in: PublishedIn, report: _Report) -> RunSummary | None:
    """Claim, run and record one upload; its failure is added to ``report``, not raised."""
    logger = get_run_logger()
    upload = ledger.get(upload_id)
    if upload is None or upload.pipeline != spec.name:
        raise AssayError(f"upload {upload_id}: not an upload of pipeline {spec.name!r} "
                         f"in the ledger at {ledger.path}")
    label = f"upload {upload_id} ({upload.name or upload.uri})"
    claimed = ledger.claim(upload_id, flow_run_id=str(flow_run.id or "") or None)
    if claimed is None:
        now = ledger.get(upload_id) or upload
        hint = f" ({now.reason}); `assay uploads retry {upload_id}` ingests it anew" \
            if now.state == "rejected" else ""
        logger.info("%s is %s: acknowledged, not ingested again%s", label, now.state, hint)
        report.acknowledged += 1
        return None
    version = published_in(claimed.sha256)
    if version is not None:
        ledger.finish(upload_id, "published", version=str(version))
        logger.info("%s is in the table (version %s): ledger reconciled", label, version)
        report.acknowledged += 1
        return None
    logger.info("%s: ingesting %s", label, claimed.uri)
    try:
        summary = run_inputs([claimed.uri])
    except AlreadyPublished as exc:  # a commit landed between the check and the run
        ledger.finish(upload_id, "published", version=str(exc.version))
        logger.info("%s is in the table (version %s): ledger reconciled", label, exc.version)
        report.acknowledged += 1
        return None
    except Exception as exc:
        verdict = isinstance(exc, _VERDICTS)
        state = "rejected" if verdict else "failed"
        reason = str(exc) if verdict else f"{type(exc).__name__}: {exc}"
        ledger.finish(upload_id, state, reason=reason)
        logger.error("%s %s: %s", label, state, reason)
        report.not_ingested.append(f"{label}: {state}: {reason}")
        report.errors.append(exc)
        return None
    ledger.finish(upload_id, "published", version=str(summary.version))
    logger.info("%s published as version %s", label, summary.version)
    report.published += 1
    return summary
