"""The ``assay`` command line: run a pipeline, check a spec, list a dataset's versions.

Exit codes (stable, documented in the README): 0 ok, 1 internal failure, 2 invalid spec,
3 upload rejected, 4 gate abort, 5 storage failed. An error we explain prints one
``error: ...`` line to stderr and no traceback; an internal failure prints the traceback
and a hint. ``--verbose`` prints the traceback of an explained error too, with the library
error it was raised from (its ``__cause__``: a codec's, pyarrow's, the storage's).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from assay.flows import help_text
from assay.flows.daemon_commands import daemon_app
from assay.flows.dataset_commands import dataset_app
from assay.flows.doctor import doctor
from assay.flows.import_phase import collector_paused
from assay.flows.prefect_api import ApiUrlProbe
from assay.flows.termination import Terminated, signals_raise
from assay.flows.upload_commands import uploads_app
from assay.pipelines.backend import BackendChoice
from assay.pipelines.errors import EXIT_INTERNAL, AssayError, Unavailable
from assay.pipelines.spec import PipelineSpec, load_spec
from assay.pipelines.spec_columns import columns_after_steps

app = typer.Typer(
    name="assay",
    help="Clean raw uploads into validated, versioned Parquet datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

stdout = Console()
stderr = Console(stderr=True)


def reset_consoles() -> None:
    """Build the consoles again: rich reads the terminal's width and colours (COLUMNS,
    NO_COLOR, TERM) when one is made. A run daemon's child calls this once it has taken
    the client's terminal and environment."""
    global stdout, stderr
    stdout = Console()
    stderr = Console(stderr=True)

VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Show Prefect's logs and full tracebacks."),
]


def _fail(line: str) -> None:
    """One plain line on stderr: rich would wrap it at the terminal's width."""
    print(f"error: {line}", file=sys.stderr, flush=True)


@contextmanager
def _exit_codes(verbose: bool) -> Iterator[None]:
    """Map exceptions to the documented exit codes and their one-line messages."""
    try:
        yield
    except Terminated as exc:
        _fail(f"terminated ({exc})")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _fail("interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        known = isinstance(exc, AssayError) and (
            exc.exit_code != EXIT_INTERNAL or isinstance(exc, Unavailable))
        if verbose or not known:  # with the library error it was raised from, if any
            traceback.print_exc()
        if isinstance(exc, AssayError):
            for line in str(exc).splitlines() or [type(exc).__name__]:
                _fail(line)
        else:
            _fail(f"internal failure: {type(exc).__name__}: {exc}")
        if not known:
            print(
                "hint: this is a bug in assay, not in your spec or data; "
                "please report it with the traceback above.",
                file=sys.stderr,
            )
        raise typer.Exit(exc.exit_code if known else EXIT_INTERNAL) from None


def _configure_prefect(verbose: bool) -> None:
    """Keep Prefect quiet on the console unless --verbose, not in the runs' logs that its
    server keeps; call before importing Prefect.

    Prefect reads its settings and configures logging when first imported, so the variables
    are set before ``assay.flows.ingest`` is imported (a value the user set wins). With
    ``--prefect`` and no PREFECT_API_URL, Prefect runs the flow against a temporary local
    server (its ephemeral mode: no prompt, stopped at exit); with it set, runs and logs go
    to that server.
    """
    if "prefect" not in sys.modules:
        prefect_environment(verbose)


def prefect_environment(verbose: bool) -> None:
    """The variables of ``_configure_prefect`` (a value the user set wins); a run daemon's
    child sets them too, before it rebuilds Prefect's settings from its client's
    environment."""
    # The ephemeral server would otherwise phone home, and log an error where it cannot.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        # the console handler only: runs still send what they did (INFO) to Prefect's API
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")


class _HideRunFailures(logging.Filter):
    """Drop flow/task-run error logs, and a Dask worker's report of a failed task (with its
    traceback, e.g. an upload rejected while it is read), from the console: the CLI reports
    the failure itself (one line, or a traceback for internal ones); the API handler still
    records the runs' logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno >= logging.ERROR
            and (record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))
                 or (record.name == "distributed.worker"
                     and str(record.msg).startswith("Compute Failed")))
        )


def _quiet_console(as_flow: bool) -> None:
    """Without --verbose the console shows warnings, not Dask's chatter or run failures.

    Call before the run: importing distributed sets its loggers to INFO, and an in-process
    cluster's scheduler and workers log through them. Distributed's logger has a console
    handler of its own (and whether its records also reach the root logger's depends on
    which library configured logging first), so both get the filter; a flow run's console
    handler (Prefect's, ``as_flow``) too.
    """
    # p2p shuffles log their lifecycle at WARNING; real problems surface as task errors
    distributed = logging.getLogger("distributed")
    distributed.setLevel(logging.ERROR)
    handlers = list(distributed.handlers)
    if as_flow:
        from prefect.logging.handlers import PrefectConsoleHandler

        # distributed logs to its own stderr handler (it does not propagate to Prefect's)
        handlers += [h for h in logging.getLogger().handlers
                     if isinstance(h, PrefectConsoleHandler)]
    for handler in handlers:
        if not any(isinstance(f, _HideRunFailures) for f in handler.filters):
            handler.addFilter(_HideRunFailures())


@contextmanager
def _progress_reporter() -> Iterator[Callable[[int, int], None]]:
    """An ``on_progress(done, total)`` callback: a live bar on a terminal, plain lines else."""
    if not stderr.is_terminal:
        last_decile = -1

        def plain(done: int, total: int) -> None:
            nonlocal last_decile
            decile = 10 * done // total if total else 10
            if decile != last_decile:
                last_decile = decile
                print(f"progress: {done}/{total} partitions", file=sys.stderr, flush=True)

        yield plain
        return

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("partitions"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task_id = bar.add_task("starting", total=None)  # Prefect and the cluster start first

        def live(done: int, total: int) -> None:
            bar.update(task_id, description="running", completed=done, total=total)

        yield live


@app.command()
def run(
    spec: Annotated[
        Path, typer.Argument(help="Pipeline spec (YAML).", metavar="SPEC", show_default=False)
    ],
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="PATH_OR_GLOB",
            help="Upload path or glob; repeat for several. Replaces the spec's source.paths.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Dataset directory; replaces the spec's sink.path.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            metavar="N",
            help="Workers of the local Dask cluster (default: the spec's cluster.workers, "
            "else Dask's choice); on the cuDF backend, how many GPUs to use.",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Address of a running Dask scheduler (e.g. tcp://host:8786) to use instead "
            "of starting a local cluster.",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        BackendChoice | None,
        typer.Option(
            "--backend",
            help="Frame library: auto (cuDF when a GPU is visible and cuDF imports, else "
            "pandas), pandas or cudf. Replaces the spec's backend.",
            show_default=False,
        ),
    ] = None,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Run as a flow through Prefect's engine (its phases as tasks, retried by "
            "Prefect) or without Prefect. Default: with a Prefect server configured "
            "(PREFECT_API_URL), a flow run recorded through Prefect's REST API (its states, "
            "a task run per phase, logs, artifacts and heartbeats; Prefect is not imported), "
            "else without; --prefect with no server records the run in Prefect's local "
            "database through its temporary server (5-8 s more).",
            show_default=False,
        ),
    ] = None,
    no_daemon: Annotated[
        bool,
        typer.Option(
            "--no-daemon",
            help="Run in this process even when an `assay daemon` is running, and launch "
            "none (as does ASSAY_DAEMON=off; without either, a run that finds no daemon "
            "launches one that exits after 15 idle minutes).",
        ),
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Run a pipeline and publish a new dataset version (exit 0 when one is published)."""
    _configure_prefect(verbose)
    # the probe answers while we import; it is not asked when --prefect/--no-prefect decide
    with (ApiUrlProbe() if prefect is None else nullcontext()) as server, \
            _exit_codes(verbose), signals_raise():
        # fail fast (exit 2) on a bad spec, or a backend that cannot run here, before
        # Prefect and Dask start; the run takes the checked request as it is
        with collector_paused():
            from assay.flows.summary import print_summary
            from assay.pipelines import compose

        request = compose.load(spec, inputs=input_, output=output, backend=backend,
                               workers=workers, cluster_address=cluster)
        as_flow = prefect if server is None else server.configured()
        found = server.server() if server is not None and as_flow else None
        summary = None if found is None else _run_recorded(request, found, {
            "spec_path": str(spec.resolve()), "inputs": input_, "output": output,
            "workers": workers, "cluster_address": cluster,
            "backend": backend and backend.value}, verbose)
        if summary is None:
            summary = _run_as_flow(request, verbose) if as_flow else _run_here(
                verbose, lambda progress: compose.run_all(request, on_progress=progress).summary)
        print_summary(stdout, summary)


def _run_here(verbose: bool, run: Callable[[Callable[[int, int], None]], Any]) -> Any:
    """``run(on_progress)`` in this process without Prefect's engine: the console quiet
    unless --verbose, progress on stderr."""
    if not verbose:
        _quiet_console(as_flow=False)
    with _progress_reporter() as on_progress:
        return run(on_progress)


def _run_recorded(request: Any, server: Any, parameters: dict[str, Any], verbose: bool
                  ) -> Any:
    """The run recorded as a flow run through Prefect's REST API, without importing Prefect
    (``assay.flows.recorded_run``); None, with nothing run, where the server refuses to
    create the flow run: Prefect's engine then runs it."""
    with collector_paused():
        from assay.flows.recorded_run import Refused, RestApi, run_recorded

    try:
        return _run_here(verbose, lambda progress: run_recorded(
            request, RestApi(server), parameters, progress))
    except Refused as exc:
        if verbose:
            print(f"note: {exc}; the run goes through Prefect's engine", file=sys.stderr,
                  flush=True)
        return None


def _run_as_flow(request: Any, verbose: bool) -> Any:
    """The run as the ``ingest`` flow, reporting to the configured server (or to Prefect's
    temporary one, started first so that one failing to start is one line)."""
    with collector_paused():
        from assay.flows.ingest import ingest
        from assay.flows.server import check_run_server

    if not verbose:
        _quiet_console(as_flow=True)  # after importing Prefect: it sets up its handlers
    check_run_server()
    with _progress_reporter() as on_progress:
        return ingest(spec_path=request, on_progress=on_progress)


@app.command()
def validate(
    spec: Annotated[
        Path, typer.Argument(help="Pipeline spec (YAML).", metavar="SPEC", show_default=False)
    ],
    verbose: VerboseOption = False,
) -> None:
    """Check a spec without running it; print an outline (exit 0 valid, 2 invalid)."""
    with _exit_codes(verbose):
        parsed = load_spec(spec)
        stdout.print(f"[green]OK[/] {escape(str(spec))}: pipeline [bold]{escape(parsed.name)}[/]")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")  # a long path folds, never ends in an ellipsis
        for label, value in spec_outline(parsed):
            grid.add_row(f"  {label}", escape(value))
        stdout.print(grid)


def spec_outline(spec: PipelineSpec) -> list[tuple[str, str]]:
    """Source, columns, steps, the columns they leave (as a gate after the last step sees
    them), gates and sink of a spec, one line each."""
    src = spec.source
    columns = [f"{c.name}:{c.type}" for c in spec.schema_.columns]
    steps = [s.label if s.label == s.op else f"{s.label} ({s.op})" for s in spec.steps]
    gates = [f"{g.name} ({g.policy}, after {g.after or 'last step'})" for g in spec.gates]
    split = spec.sink.split
    sink = spec.resolve(spec.sink.path)
    if split is not None:
        sink += f" (split {'/'.join(split.fractions)} by {', '.join(split.key)})"
    known = columns_after_steps(spec)
    after = _counted([f"{name}:{kind}" for name, kind in known or []])
    if spec.schema_.extra_columns == "keep":
        after = ("known when a run reads the extra columns an upload brings" if known is None
                 else f"{after}, and the extra columns an upload brings (strings)")
    return [
        ("source", f"{', '.join(src.paths)} (format {src.format})"),
        ("columns", _counted(columns)),
        ("steps", _counted(steps)),
        ("after the steps", after),
        ("gates", _counted(gates)),
        ("sink", sink),
    ]


def _counted(items: list[str]) -> str:
    return f"{len(items)}: {', '.join(items)}" if items else "none"


app.command()(doctor)
app.add_typer(dataset_app)  # inspect, diff, vacuum, convert
app.add_typer(uploads_app)  # uploads list, show, retry
app.add_typer(daemon_app)  # daemon start, stop, status

suite_app = typer.Typer(
    help="Work with Great Expectations suites.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(suite_app, name="suite")


@suite_app.command("draft")
def suite_draft(
    upload: Annotated[
        str,
        typer.Argument(help="Upload to profile: CSV, JSON Lines or Parquet, optionally "
                       "compressed (.gz .zst .bz2 .xz); a path or fsspec URL.",
                       metavar="UPLOAD", show_default=False),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", help="Where to write the suite JSON."),
    ] = Path("suite.json"),
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", show_default=False,
                     help="The suite's name (default: the upload's file name, no extensions)."),
    ] = None,
    sample_rows: Annotated[
        int,
        typer.Option("--sample-rows", min=1, metavar="N", help="Rows of the upload to profile."),
    ] = 100_000,
    spec: Annotated[
        Path | None,
        typer.Option("--spec", metavar="SPEC", show_default=False,
                     help="Profile the rows after this pipeline's steps (read as `assay run` "
                     "reads, typed by its schema): the rows its gates see."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite FILE if it exists.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Draft a starting GE suite from an upload's sample (exit 2 FILE exists, 3 unreadable)."""
    from assay.pipelines.errors import EXIT_INVALID_SPEC, EXIT_REJECTED

    if output.exists() and not force:
        _fail(f"{output}: already exists (use --force to overwrite)")
        raise typer.Exit(EXIT_INVALID_SPEC)
    with _exit_codes(verbose):
        from assay.pipelines import draft_sample
        from assay.validation.draft import DraftError

        # the gates' suites may not exist yet: this command drafts one of them
        pipeline = load_spec(spec, suites=False) if spec is not None else None
        try:
            draft = draft_sample.draft(upload, pipeline, name=name, sample_rows=sample_rows,
                                spec_path=None if spec is None else str(spec))
        except DraftError as exc:
            if verbose:  # the reader's own error is its cause
                traceback.print_exc()
            _fail(str(exc))
            raise typer.Exit(EXIT_REJECTED) from None
        try:
            with open(output, "w" if force else "x", encoding="utf-8") as handle:
                json.dump(draft.suite, handle, indent=2)
                handle.write("\n")
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror or exc}")
            raise typer.Exit(EXIT_INVALID_SPEC) from None
        sampled = "the whole upload" if draft.whole else f"the first {draft.rows:,} rows"
        if spec is not None:
            sampled += f" after the steps of {spec}"
        # plain print: rich would wrap a long path mid-line
        print(f"wrote {output}: {len(draft.suite['expectations'])} expectations drafted "
              f"from {sampled} ({draft.rows:,} rows)")
        for line in draft.skipped:
            print(f"  skipped {line}")


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="The upload ledger, landing zone, dataset locks and the local Prefect server's "
        "database (default: $ASSAY_DATA_DIR, else ~/.assay).",
        show_default=False,
    ),
]
PipelinesArgument = Annotated[
    Path,
    typer.Argument(help="A folder of pipeline specs (*.yaml, */pipeline.yaml) or one spec "
                   "(default: the working directory).", metavar="PIPELINES_DIR",
                   show_default=False),
]


def _data_dir(option: Path | None) -> Path:
    """The data directory, exported so that the flow runs this process starts share it."""
    from assay.pipelines.data_dir import DATA_DIR_ENV, default_data_dir

    path = (option or default_data_dir()).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[DATA_DIR_ENV] = str(path)
    return path


@contextmanager
def _prefect_api(data_dir: Path) -> Iterator[str]:
    """``$PREFECT_API_URL``, or a local Prefect server started for the block (ephemeral mode
    runs no scheduler). Call before Prefect is imported: it reads the URL at import."""
    from assay.flows.server import check_answers, local_server

    if url := os.environ.get("PREFECT_API_URL"):
        check_answers(url)
        yield url
        return

    print(f"starting a local Prefect server (database under {data_dir / 'prefect'})",
          file=sys.stderr, flush=True)
    with local_server(data_dir) as url:
        os.environ["PREFECT_API_URL"] = url
        print(f"prefect server: {url} (stopped on exit)", flush=True)
        yield url


@app.command()
def serve(
    pipelines_dir: PipelinesArgument = Path("."),
    data_dir: DataDirOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Flow runs at most at once.")
    ] = 4,
    poll_seconds: Annotated[
        float, typer.Option("--poll", min=0.1, metavar="SECONDS",
                            help="How often to look for scheduled or triggered runs.")
    ] = 1.0,
    redeliver_after: Annotated[
        float, typer.Option("--redeliver-after", min=1, metavar="SECONDS",
                            help="Send an upload's trigger again when no flow run took it "
                            "this long after it was sent (Prefect can drop an event).")
    ] = 60.0,
    verbose: VerboseOption = False,
) -> None:
    """Serve a Prefect deployment per pipeline (its schedule, its upload trigger) until Ctrl-C."""
    _configure_prefect(verbose)
    with _exit_codes(verbose):
        from assay.pipelines.registry import load_pipelines

        found = load_pipelines(pipelines_dir)
        home = _data_dir(data_dir)
        with _prefect_api(home):
            from assay.flows.redeliver import start_redelivery
            from assay.flows.serve import serve_pipelines

            stop = start_redelivery(home, list(found), redeliver_after)
            try:
                serve_pipelines(found, limit=limit, poll_seconds=poll_seconds,
                                announce=lambda line: print(line, flush=True))
            finally:
                stop.set()


@app.command()
def api(
    pipelines_dir: PipelinesArgument = Path("."),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8000,
    tokens: Annotated[
        Path | None,
        typer.Option("--tokens", metavar="FILE", show_default=False,
                     help="YAML/JSON mapping pipeline names (or '*') to lists of bearer "
                     "tokens (default: $ASSAY_API_TOKENS, 'pipeline=token,...')."),
    ] = None,
    data_dir: DataDirOption = None,
    openapi: Annotated[
        bool, typer.Option("--openapi", help="Print the OpenAPI schema and exit.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Take uploads over HTTP and trigger their ingestion (see docs/operations.md)."""
    _configure_prefect(verbose)
    with _exit_codes(verbose):
        from assay.pipelines.registry import load_pipelines

        found = load_pipelines(pipelines_dir)
        home = _data_dir(data_dir)
        from assay.flows.api import create_app, load_tokens, openapi_json

        if openapi:
            sys.stdout.write(openapi_json(create_app(found, home, {})))
            return
        app_ = create_app(found, home, load_tokens(tokens))
        if not os.environ.get("PREFECT_API_URL"):
            print("warning: PREFECT_API_URL is not set: uploads are kept as pending until an "
                  "intake starts with a server to trigger", file=sys.stderr)
        print(f"taking uploads of {', '.join(found)} at http://{host}:{port}"
              f"/v1/pipelines/NAME/uploads, landed under {home}", flush=True)
        import uvicorn

        uvicorn.run(app_, host=host, port=port, log_level="info" if verbose else "warning")


@app.command()
def watch(
    spec: Annotated[Path, typer.Argument(help="The pipeline spec the files are uploads of.",
                                         metavar="SPEC", show_default=False)],
    source: Annotated[str, typer.Argument(help="A folder or fsspec URL prefix to watch "
                                          "(credentials: the spec's source.storage_options).",
                                          metavar="DIR_OR_URL", show_default=False)],
    settle: Annotated[
        float, typer.Option("--settle", min=0, metavar="SECONDS",
                            help="A file must stay unchanged this long to count as complete.")
    ] = 5.0,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, metavar="SECONDS", help="Poll interval.")
    ] = 1.0,
    data_dir: DataDirOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Land complete files from a folder or bucket as uploads, trigger their ingestion, and
    print each upload's final state."""
    _configure_prefect(verbose)
    with _exit_codes(verbose):
        from assay.pipelines.registry import load_pipelines

        (pipeline,) = load_pipelines(spec).values()
        from assay.flows.intake import Intake
        from assay.flows.watch import Watcher, received_line, settled_line

        watcher = Watcher(source, pipeline, Intake(_data_dir(data_dir)), settle=settle,
                          storage_options=pipeline.spec.source.storage_options)
        print(watcher.describe(interval), flush=True)
        watcher.run(interval=interval,
                    on_upload=lambda received: print(received_line(received), flush=True),
                    on_settled=lambda upload: print(settled_line(upload), flush=True))


help_text.reflow(app)  # once every command is registered
