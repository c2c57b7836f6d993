"""``assay uploads list|show|retry``: the upload ledger from the command line.

Every upload a served pipeline took (over HTTP, from a watched folder, or found by a
sweep) is a row of the ledger with its fate. ``list`` and ``show`` read it; ``retry``
sends an upload for ingestion again, reopening one that was rejected or failed (a
spec since fixed), through the same trigger as a new upload, so the pipeline's served
deployment ingests it once. ``cli.py`` adds the group as ``assay uploads``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from assay.pipelines.ledger import Ledger, Upload

uploads_app = typer.Typer(
    name="uploads",
    help="The upload ledger: what became of each upload; retry one after fixing its spec.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", metavar="DIR", show_default=False,
                 help="The data directory holding the ledger (default: $ASSAY_DATA_DIR, "
                 "else ~/.assay)."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show full tracebacks.")]
UploadIdArgument = Annotated[
    str, typer.Argument(help="An upload id (as the API, `assay watch` or `list` print it).",
                        metavar="UPLOAD_ID", show_default=False)]
STATES = ("received", "pending", "running", "published", "rejected", "failed")


def _ledger(data_dir: Path | None) -> Ledger:
    """The data directory's ledger; one that is not there is a wrong ``--data-dir`` (or no
    upload yet), said in one line (exit 2), not an empty ledger created."""
    from assay.flows.cli import _fail
    from assay.pipelines.data_dir import default_data_dir
    from assay.pipelines.errors import EXIT_INVALID_SPEC
    from assay.pipelines.ledger import Ledger, ledger_path

    path = ledger_path((data_dir or default_data_dir()).expanduser())
    if not path.is_file():
        _fail(f"no upload ledger at {path} (no uploads yet, or another --data-dir)")
        raise typer.Exit(EXIT_INVALID_SPEC)
    return Ledger(path)


@uploads_app.command("list")
def list_uploads(
    pipeline: Annotated[str | None, typer.Option(
        "--pipeline", "-p", metavar="NAME", show_default=False,
        help="Only this pipeline's uploads.")] = None,
    state: Annotated[str | None, typer.Option(
        "--state", metavar="STATE", show_default=False,
        help=f"Only uploads in this state: {', '.join(STATES)}.")] = None,
    data_dir: DataDirOption = None,
    verbose: VerboseOption = False,
) -> None:
    """List the uploads, oldest first: id, pipeline, name, state, version, last change."""
    from assay.flows.cli import _exit_codes
    from assay.flows.dataset_commands import pipe_may_close, show_table
    from assay.pipelines.errors import SpecError

    with _exit_codes(verbose), pipe_may_close():
        if state is not None and state not in STATES:
            raise SpecError(f"--state {state}: not a state; one of {', '.join(STATES)}")
        uploads = _ledger(data_dir).history(pipeline, state)
        rows = [[u.id, u.pipeline, u.name or "", u.state, u.version or "",
                 u.updated_at[:19].replace("T", " ")] for u in uploads]
        show_table(f"{len(rows)} upload(s)",
                   ["id", "pipeline", "name", "state", "version", "changed (UTC)"], rows,
                   right={4})


@uploads_app.command()
def show(upload_id: UploadIdArgument, data_dir: DataDirOption = None,
         verbose: VerboseOption = False) -> None:
    """Everything the ledger knows of one upload, its reason in full."""
    from assay.flows.cli import _exit_codes, _fail
    from assay.pipelines.errors import EXIT_INVALID_SPEC

    with _exit_codes(verbose):
        ledger = _ledger(data_dir)
        upload = ledger.get(upload_id)
        if upload is None:
            _fail(f"no upload {upload_id!r} in the ledger at {ledger.path}")
            raise typer.Exit(EXIT_INVALID_SPEC)
        for label, value in _fields(upload):
            print(f"{label + ':':<10} {value}")


def _fields(upload: Upload) -> list[tuple[str, str]]:
    return [("id", upload.id), ("pipeline", upload.pipeline), ("name", upload.name or "-"),
            ("state", upload.state), ("version", upload.version or "-"),
            ("reason", upload.reason or "-"), ("bytes", f"{upload.size:,}"),
            ("sha256", upload.sha256), ("file", upload.uri),
            ("flow run", upload.flow_run_id or "-"), ("created", upload.created_at),
            ("changed", upload.updated_at)]


@uploads_app.command()
def retry(
    upload_ids: Annotated[list[str], typer.Argument(
        help="Upload ids: rejected, failed, or not yet ingested. The trigger goes to "
        "PREFECT_API_URL's server; without one the upload waits as pending.",
        metavar="UPLOAD_ID...", show_default=False)],
    data_dir: DataDirOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Ingest uploads again, e.g. ones rejected before their spec was fixed (exit 2: refused)."""
    from assay.flows.cli import _configure_prefect, _exit_codes, _fail

    _configure_prefect(verbose)
    with _exit_codes(verbose):
        from assay.flows.intake import Intake, NotRetryable
        from assay.pipelines.errors import EXIT_INVALID_SPEC

        intake = Intake(_ledger(data_dir).path.parent)
        refused = 0
        for upload_id in upload_ids:  # one refused does not stop the others
            try:
                received = asyncio.run(intake.retry(upload_id))
            except NotRetryable as exc:
                _fail(str(exc))
                refused += 1
                continue
            upload = received.upload
            sent = f"ingestion triggered (event {received.event_id})" if received.event_id \
                else received.notice
            print(f"upload {upload.id} ({upload.name or upload.uri}): {upload.state}: {sent}",
                  flush=True)
        if refused:
            raise typer.Exit(EXIT_INVALID_SPEC)
