"""Pipeline specs: YAML checked by pydantic, with one-line errors that name the bad key.

Nothing in a spec is ever passed to ``eval``. Relative paths resolve against the folder of
the spec file, so a spec runs from any working directory.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dask.utils import parse_bytes
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from assay.pipelines.errors import SpecError
from assay.transforms.base import registered_steps
from assay.transforms.params import ByteSize, RejectOrNull

ENV_REFERENCE = re.compile(r"^\$\{ENV:([A-Za-z_][A-Za-z0-9_]*)\}$")
# Option names that hold credentials (key, secret, token, password, account_key, sas_token,
# connection_string, ...): their values must come from the environment.
_SECRET_NAME = re.compile(r"(^|_)(key|secret|token|password|passwd|credentials?|sas|"
                          r"connection_string)($|_)", re.IGNORECASE)
# gcsfs's token modes: names of a way to authenticate, not secrets
_AUTH_MODES = {"anon", "browser", "cache", "cloud", "google_default"}


class StorageOptions(dict[str, Any]):
    """fsspec options with ``${ENV:NAME}`` references replaced by the variables' values.

    The references, not the values, are what a spec serialises to (its sha256, a dump) and
    what ``repr`` shows, so a secret never reaches a manifest, a log or an error message.
    """

    def __init__(self, resolved: dict[str, Any], references: dict[str, Any]) -> None:
        super().__init__(resolved)
        self.references = references

    def __repr__(self) -> str:
        return repr(self.references)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled to Dask workers with its values
        return (StorageOptions, (dict(self), self.references))


def _resolve(value: Any, key: str) -> Any:
    """``value`` with its references resolved; ``key`` is its dotted path, for errors."""
    if isinstance(value, dict):
        return {k: _resolve(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    reference = ENV_REFERENCE.match(value)
    if reference is None:
        name = key.rsplit(".", 1)[-1]
        if _SECRET_NAME.search(name) and value and value not in _AUTH_MODES:
            raise ValueError(f"{key}: a credential is not written in a spec; put it in an "
                             f"environment variable and write {name}: ${{ENV:NAME}}")
        return value
    name = reference.group(1)
    if name not in os.environ:
        raise ValueError(f"{key}: environment variable {name} is not set")
    return os.environ[name]


def _storage_options(options: dict[str, Any]) -> StorageOptions:
    return StorageOptions(_resolve(options, ""), options)


Options = Annotated[dict[str, Any], AfterValidator(_storage_options),
                    PlainSerializer(lambda options: getattr(options, "references", options))]
# Device memory: a byte size, or a fraction of each GPU's memory (as Dask-CUDA reads it)
DeviceSize = ByteSize | Annotated[float, Field(gt=0, lt=1)]
ColumnType = Literal["string", "int64", "int32", "float64", "float32", "bool", "timestamp"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CsvOptions(Model):
    """How CSV uploads are parsed. Every value is read as a string first and converted to
    its column's type afterwards, so a bad value quarantines its row, not the upload."""

    delimiter: str = Field(",", min_length=1, max_length=1, description=(
        "The field separator, one character."), examples=["\t"])
    quote_char: str = Field('"', min_length=1, max_length=1, description=(
        "The character that quotes a field holding the delimiter; doubled inside a quoted "
        "field, it stands for itself."), examples=["'"])
    header: bool = Field(True, description=(
        "Whether the first line names the columns. Without a header, the columns are the "
        "schema's, in order."), examples=[False])
    null_values: list[str] = Field(default_factory=lambda: [""], description=(
        "Strings read as null. By default only the empty field: `NA`, `null` or `None` are "
        "values (strings) unless listed here."), examples=[["", "NA", "null"]])
    true_values: list[str] = Field(
        default_factory=lambda: ["true", "True", "TRUE", "1"],
        description="Spellings of true in `bool` columns.", examples=[["yes", "y", "1"]])
    false_values: list[str] = Field(
        default_factory=lambda: ["false", "False", "FALSE", "0"],
        description="Spellings of false in `bool` columns.", examples=[["no", "n", "0"]])


class SourceSpec(Model):
    """Where the uploads are and how to read them."""

    paths: list[str] = Field(min_length=1, description=(
        "One or more files, folders, globs or fsspec URLs (a single string is one path). A "
        "folder means every file in it with a known extension, hidden files skipped. "
        "Relative paths resolve against the spec file's folder; `assay run --input` "
        "replaces them."), examples=[["uploads/*.csv", "uploads/*.csv.gz"], "s3://inbox/events/"])
    format: Literal["auto", "csv", "jsonl", "parquet"] = Field("auto", description=(
        "`auto` detects the format from the extension: `.csv .tsv .txt` are csv, `.jsonl "
        ".ndjson .json` jsonl, `.parquet .pq` parquet, each optionally followed by `.gz .zst "
        ".bz2 .xz`."), examples=["jsonl"])
    csv: CsvOptions = Field(default_factory=CsvOptions, description=(
        "How CSV uploads are parsed."), examples=[{"delimiter": ";", "null_values": ["", "NA"]}])
    block_size: ByteSize = Field(parse_bytes("64MiB"), description=(
        "CSV and JSON Lines files (compressed ones too) larger than this are read as "
        "several blocks, in parallel, each starting where a record starts; a Parquet file "
        "is a block per row group, or per slice of a row group larger than this "
        "(uncompressed). A worker thread holds about ten times a block's size "
        "while it reads one (about 600 MiB at the default). Like `cluster`, it is not part "
        "of `spec_sha256`: how the work is cut does not change the dataset. A compressed "
        "file's block continues the decompression where an earlier block of it ended, so "
        "the file is decompressed about once per worker thread reading it."),
        examples=["16MiB"])
    max_record_bytes: ByteSize = Field(parse_bytes("16MiB"), description=(
        "The longest CSV record or JSON line read: a longer one is quarantined unread "
        "(`malformed: a record longer than ...`), and a quoted CSV value still open this far "
        "after its record began is an unbalanced quote (`malformed: unbalanced quote`). A "
        "block holds at most its size plus one record."), examples=["64MiB"])
    max_decompressed_bytes: ByteSize = Field(parse_bytes("2GiB"), description=(
        "A compressed upload that expands past this is rejected (a zip bomb) while it is "
        "planned, before any block is read."), examples=["8GiB"])
    storage_options: Options = Field(default_factory=dict, description=(
        "fsspec options for reading the inputs. A credential is written as a reference to "
        "an environment variable, `${ENV:NAME}` (the whole value), resolved when the spec "
        "loads; an option named like a credential (`key`, `secret`, `token`, `password`, "
        "`*_key`, `*_secret`, `*_token`, `sas_token`, `connection_string`, ...) with a "
        "literal value, or a reference to an unset variable, fails the spec naming the key. "
        "Only the references reach `spec_sha256`, manifests, logs and error messages. "
        "Credentials fsspec finds on its own (`AWS_*` variables, instance roles) need no "
        "option."), examples=[{"key": "${ENV:S3_KEY}", "secret": "${ENV:S3_SECRET}",
                               "client_kwargs": {"region_name": "eu-west-1"}}])

    @field_validator("paths", mode="before",
                     json_schema_input_type=str | Annotated[list[str], Field(min_length=1)])
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ColumnSpec(Model):
    """A declared column of the uploads."""

    name: str = Field(min_length=1, description=(
        "The column's name in the upload (CSV header, JSON key, Parquet field). Names "
        "starting with `_` are reserved."), examples=["event_id"])
    type: ColumnType = Field("string", description=(
        "The column's type. A value that does not parse as it quarantines its row "
        "(`schema: amount is not float64`). `timestamp` is stored as UTC microseconds; "
        "values outside the years 1 to 9999 are not timestamps."), examples=["int64"])
    nullable: bool = Field(True, description=(
        "`true` (the default): nulls are allowed; `false`: a null (or missing) value "
        "quarantines its row."), examples=[False])
    format: str | None = Field(None, description=(
        "For `timestamp` columns: a strptime format or `ISO8601` (null: ISO 8601)."),
        examples=["%d/%m/%Y %H:%M"])
    timezone: str | None = Field(None, description=(
        "For `timestamp` columns: the IANA zone of values without an offset (null: UTC). "
        "Values are stored in UTC."), examples=["Europe/Oslo"])

    @model_validator(mode="after")
    def _format_only_for_timestamps(self) -> ColumnSpec:
        if (self.format or self.timezone) and self.type != "timestamp":
            raise ValueError("format and timezone apply only to type 'timestamp'")
        return self


class SchemaSpec(Model):
    """The columns an upload must have, and what to do with extra or missing ones."""

    columns: list[ColumnSpec] = Field(min_length=1, description=(
        "The declared columns, in order."), examples=[[
            {"name": "event_id", "type": "int64", "nullable": False},
            {"name": "ts", "type": "timestamp", "format": "ISO8601", "timezone": "UTC"},
            {"name": "user"}]])
    extra_columns: Literal["drop", "keep", "reject"] = Field("drop", description=(
        "Columns an upload has that the schema does not declare: `drop` them, `keep` them "
        "(as strings), or `reject` the upload."), examples=["keep"])
    missing_columns: RejectOrNull = Field("reject", description=(
        "An upload that lacks a declared column: `reject` it, or fill the column with "
        "`null`s."), examples=[None])

    @field_validator("columns")
    @classmethod
    def _unique_names(cls, columns: list[ColumnSpec]) -> list[ColumnSpec]:
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                raise ValueError(f"column {column.name!r} is declared twice")
            if column.name.startswith("_"):
                raise ValueError(f"column {column.name!r}: names starting with '_' are reserved")
            seen.add(column.name)
        return columns

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


class GateSpec(Model):
    """A validation gate: a Great Expectations 1.x suite evaluated at a point of the step
    list. Give exactly one of `suite` and `expectations`."""

    name: str = Field(min_length=1, description=(
        "The gate's name: in reasons (`quality: expect_...`), results "
        "(`validation/<name>.json`) and the manifest."), examples=["quality"])
    after: str | None = Field(None, description=(
        "The step after which the gate runs, by its label (its `name`, else its `op`); "
        "null: after the last step."), examples=["parse_timestamp"])
    suite: str | None = Field(None, description=(
        "A GE 1.x suite JSON file (as GE writes it), relative to the spec's folder."),
        examples=["suites/events.json"])
    expectations: list[dict[str, Any]] | None = Field(None, description=(
        "Inline expectations, in the shape of a suite's `expectations` list."), examples=[[
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "ts"}}]])
    policy: Literal["quarantine", "abort", "warn"] = Field("quarantine", description=(
        "`quarantine`: failing rows go to the quarantine and the rest flow on (a failing "
        "table-level expectation aborts); `abort`: a failing expectation aborts the run, "
        "nothing published (exit 4); `warn`: recorded in the manifest and results only."),
        examples=["abort"])
    max_quarantined_fraction: float | None = Field(None, ge=0, le=1, description=(
        "Abort the run when the gate quarantines more than this fraction of the rows read. "
        "By default (null) there is no limit: a gate may quarantine every row."),
        examples=[0.05])
    scope: Literal["dataset", "upload"] = Field("dataset", description=(
        "What the gate's table-level (aggregate) expectations judge in an appending run: "
        "`dataset`, the dataset after the append (the published version's kept statistics "
        "merged with the run's, see gates.md), or `upload`, the run's rows alone. One "
        "expectation may say otherwise in its GE `meta: {scope: upload}`. Row-level "
        "expectations always judge the rows being added; an overwrite run is the whole "
        "dataset, so both scopes agree there."), examples=["upload"])

    @model_validator(mode="after")
    def _one_suite(self) -> GateSpec:
        if (self.suite is None) == (self.expectations is None):
            raise ValueError("give exactly one of 'suite' (a file) or 'expectations' (inline)")
        return self


class SplitSpec(Model):
    """Deterministic train/validation/test split by a stable hash of key columns: shards
    go to one hive-style folder per split (`split=train/`, so Parquet readers see a `split`
    column) and the manifest gives the rows of each."""

    key: list[str] = Field(min_length=1, description=(
        "The columns whose values decide a row's split: equal keys land in the same split "
        "in every run."), examples=[["user"]])
    fractions: dict[str, float] = Field(min_length=1, description=(
        "Each split's name (a plain identifier) and share of the rows; the shares sum to "
        "1."), examples=[{"train": 0.8, "validation": 0.1, "test": 0.1}])
    seed: int = Field(0, description="Changes the assignment, keeping the fractions.",
                      examples=[42])

    @field_validator("fractions")
    @classmethod
    def _sum_to_one(cls, fractions: dict[str, float]) -> dict[str, float]:
        if any(f <= 0 for f in fractions.values()):
            raise ValueError("every fraction must be > 0")
        if abs(sum(fractions.values()) - 1) > 1e-9:
            raise ValueError(f"fractions must sum to 1, got {sum(fractions.values())}")
        for name in fractions:
            if not name.isidentifier():
                raise ValueError(f"split name {name!r} must be a plain identifier")
        return fractions


class SinkSpec(Model):
    """Where and how curated shards are written."""

    path: str = Field(description=(
        "The dataset folder, local or an fsspec URL, relative to the spec's folder; `assay "
        "run --output` replaces it."), examples=["../out/events", "s3://datasets/events"])
    target_shard_bytes: ByteSize = Field(parse_bytes("128MiB"), description=(
        "A shard is closed once it reaches this size."), examples=["256MiB"])
    row_group_rows: int = Field(128 * 1024, gt=0, description=(
        "Rows per Parquet row group."), examples=[65536])
    compression: Literal["zstd", "snappy", "gzip", "lz4", "none"] = Field("zstd", description=(
        "The Parquet compression of the shards, and of a dataset-wide dedup's index parts "
        "(zstd over every key value is most of what the index costs a run: 14% of the "
        "standard job at 4M rows; snappy or none trade storage for that time)."),
        examples=["snappy"])
    compression_level: int | None = Field(None, description=(
        "The codec's level (null: its default). On the cuDF backend a level sends shards "
        "through the host writer."), examples=[9])
    split: SplitSpec | None = Field(None, description=(
        "Split the rows into named parts by a stable hash (null: no split)."),
        examples=[{"key": ["user"], "fractions": {"train": 0.9, "test": 0.1}, "seed": 0}])
    storage_options: Options = Field(default_factory=dict, description=(
        "fsspec options for writing the dataset; credentials as `${ENV:NAME}`, as for "
        "`source.storage_options`. The Delta log is written by delta-rs, which gets the "
        "same credentials translated (S3's `key`, `secret`, `client_kwargs.endpoint_url`, "
        "...)."), examples=[{"token": "${ENV:GCS_TOKEN}"}])
    mode: Literal["overwrite", "append"] | None = Field(None, description=(
        "What a run does to the dataset's table: `overwrite` replaces its rows with the "
        "run's, `append` adds the run's rows. Either way every version is the whole "
        "dataset. null: `overwrite` for `assay run` and `assay.run`, `append` for uploads "
        "and scheduled sweeps (`overwrite` is refused there: each upload would replace the "
        "dataset)."), examples=["append"])


class ClusterSpec(Model):
    """The Dask cluster: a local one the run starts, or an existing scheduler's address.
    `assay run --workers` and `--cluster` override it. Not part of `spec_sha256`: how the
    work is spread does not change the dataset.

    A local cluster runs its workers as threads of the run's own process by default: the
    hot path is vectorised pandas/pyarrow code that releases the GIL, so threads match
    processes on speed while starting faster, sharing one copy of the libraries and handing
    shuffle data over without serialising it (measured: ``benchmarks/RESULTS.md``).
    ``processes: true`` isolates workers (one crashing cannot take the run down) at the cost
    of memory.
    """

    address: str | None = Field(None, description=(
        "A running Dask scheduler to join instead of starting a local cluster; assay starts "
        "nothing and leaves it running."), examples=["tcp://scheduler:8786"])
    workers: int | None = Field(None, gt=0, description=(
        "Workers of the local CPU cluster (null: Dask's choice, one worker with a thread "
        "per core, or with `processes: true` about one process per core). On the cuDF "
        "backend there is one worker per visible GPU and this does not apply."), examples=[4])
    threads_per_worker: int | None = Field(None, gt=0, description=(
        "Threads per worker (null: all cores, spread over the workers; 1 on GPUs)."),
        examples=[2])
    memory_limit: ByteSize | Literal["auto"] = Field("auto", description=(
        "Host memory per worker (`auto`: Dask's share of the machine's memory)."),
        examples=["4GiB"])
    processes: bool = Field(False, description=(
        "Run local workers as processes instead of threads of the run's process: a crashing "
        "worker cannot take the run down, at the cost of memory and serialisation."),
        examples=[True])
    in_process_below: ByteSize | Literal[0, "auto"] = Field("auto", description=(
        "Uploads smaller than this in all run in the run's own process on Dask's threaded "
        "scheduler, without starting a local cluster: no cluster start (about 0.5 s) and "
        "no scheduler between the tasks (8-15% less wall on the standard job); the output is "
        "the same, the summary's `cluster` row says so. What the cluster adds is memory "
        "management (worker limits, spilling to disk), which an input far smaller than memory "
        "does not need. `auto`: when what the run will hold is below an eighth of the "
        "machine's memory (cgroup limits count): the uploads' decoded bytes (Parquet: from "
        "the footer; gzip, zstd, bz2, xz: five times the file), four times that with a text "
        "step (`near_dedup`, `decontaminate`, the quality, language and PII steps); or below "
        "4 MiB of uploads, always, and only then when `memory_limit` is set. Not with "
        "`address`, "
        "`processes: true` or backend cudf. 0: always start the cluster."),
        examples=[0, "64MiB"])
    shuffle: Literal["auto", "tasks", "p2p", "files"] = Field("auto", description=(
        "How `dedup` shuffles. `tasks`: Dask's task shuffle, which hands partitions over by "
        "reference (for workers that are threads of one process). `p2p`: Dask's p2p "
        "shuffle, which streams pieces between workers and through their disks. `files`: "
        "each input partition writes its rows, ordered by output, to one file, and each "
        "output reads its part of every file, for workers that share one disk: 1.4x faster "
        "than p2p on a 10x out-of-core run on 2 cores (`benchmarks/RESULTS.md`). Output "
        "shards are the same bytes whichever is used. `auto`: `tasks` for thread workers; "
        "`files` for worker processes or a scheduler's workers when each sees a folder this "
        "machine makes under Dask's `temporary-directory`, `p2p` when one does not; cuDF: "
        "`tasks`. A run "
        "computed in process (`in_process_below`) hands partitions over by reference "
        "whatever this says."), examples=["p2p"])
    # GPU workers (backend cudf): one process per visible GPU, started by dask-cuda
    cuda_visible_devices: str | None = Field(None, description=(
        "Backend cudf: the GPUs to use (null: the environment's `CUDA_VISIBLE_DEVICES`)."),
        examples=["0,2"])
    rmm_pool_size: DeviceSize | None = Field(0.5, description=(
        "Backend cudf: the RMM pool of each GPU, a fraction of its memory or a size; a pool "
        "avoids `cudaMalloc` on the hot path (null: no pool)."), examples=["24GiB"])
    rmm_async: bool = Field(False, description=(
        "Backend cudf: CUDA's async allocator instead of the pool."), examples=[True])
    device_memory_limit: DeviceSize | None = Field(None, description=(
        "Backend cudf: Dask-CUDA's own device-to-host spilling threshold, a fraction or a "
        "size (null: Dask-CUDA's default)."), examples=[0.8])
    enable_cudf_spill: bool = Field(True, description=(
        "Backend cudf: cuDF moves buffers to host memory under pressure; whether a run "
        "spilled is logged when its cluster closes."), examples=[False])
    protocol: Literal["tcp", "ucx"] = Field("tcp", description=(
        "Backend cudf: the workers' transport; `ucx` needs the `distributed-ucxx` "
        "package."), examples=["ucx"])

    def shuffle_method(self, remote: bool) -> str:
        """The method of Dask's own shuffles. ``auto``: the task shuffle for in-process
        workers, which hands partitions over by reference (faster on the standard job:
        ``benchmarks/RESULTS.md``); p2p wherever data crosses processes or machines, where it
        is built to stream and spill. ``files`` moves only dedup's rows through files
        (``assay.pipelines.shuffle_folder``): the other shuffles (near_dedup's) use p2p."""
        if self.shuffle not in ("auto", "files"):
            return self.shuffle
        return "p2p" if remote or self.processes or self.shuffle == "files" else "tasks"


class ScheduleSpec(Model):
    """When a served deployment (`assay serve`) runs on its own: a cron line or an
    interval, in a zone. Give exactly one of `cron` and `interval`. Each scheduled run
    sweeps the source files and the outstanding uploads."""

    cron: str | None = Field(None, description="A cron line.", examples=["0 3 * * *"])
    interval: float | None = Field(None, gt=0, description="Seconds between runs.",
                                   examples=[3600])
    timezone: str = Field("UTC", description=(
        "The IANA zone cron times are read in."), examples=["Europe/Oslo"])

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of 'cron' or 'interval' (seconds)")
        return self


class IntakeSpec(Model):
    """What `assay api` and `assay watch` accept for this pipeline."""

    formats: list[Literal["csv", "jsonl", "parquet"]] = Field(
        default_factory=lambda: ["csv", "jsonl", "parquet"], min_length=1, description=(
            "The upload formats accepted; another is refused (HTTP 415)."),
        examples=[["csv"]])
    max_bytes: ByteSize = Field(parse_bytes("1GiB"), description=(
        "The largest upload; a larger one is refused (HTTP 413) and nothing is kept."),
        examples=["200MiB"])


# A tagged union of every registered step, discriminated by ``op``: errors then name the
# step's index and op, e.g. ``steps[2].normalize.columns``.
AnyStep = Annotated[functools.reduce(operator.or_, registered_steps().values()),
                    Field(discriminator="op")]


class PipelineSpec(Model):
    """A pipeline: where its uploads come from, the schema they must have, the steps and
    gates that clean them, and where the dataset goes."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description=(
        "The pipeline's name (letters, digits, `.`, `_`, `-`): flow runs, deployments "
        "(`ingest/<name>`), the manifest."), examples=["events"])
    source: SourceSpec = Field(description="Where the uploads are and how to read them.",
                               examples=[{"paths": ["uploads/*.csv"]}])
    schema_: SchemaSpec = Field(alias="schema", description=(
        "The columns the uploads must have."), examples=[{"columns": [{"name": "user"}]}])
    steps: list[AnyStep] = Field(default_factory=list, description=(
        "The transforms, in order: each is `op:` plus its parameters."), examples=[[
            {"op": "normalize", "columns": ["user"], "case": "lower"}, {"op": "dedup"}]])
    gates: list[GateSpec] = Field(default_factory=list, description=(
        "Validation gates (Great Expectations suites)."), examples=[[
            {"name": "quality", "suite": "suites/events.json"}]])
    sink: SinkSpec = Field(description="Where and how the dataset is written.",
                           examples=[{"path": "../out/events"}])
    cluster: ClusterSpec = Field(default_factory=ClusterSpec, description=(
        "The Dask cluster the run uses."), examples=[{"workers": 4, "memory_limit": "4GiB"}])
    schedule: ScheduleSpec | None = Field(None, description=(
        "When `assay serve`'s deployment runs on its own (null: only when triggered). Not "
        "part of `spec_sha256`."), examples=[{"cron": "0 3 * * *", "timezone": "Europe/Oslo"}])
    intake: IntakeSpec = Field(default_factory=IntakeSpec, description=(
        "What `assay api` and `assay watch` accept. Not part of `spec_sha256`."),
        examples=[{"max_bytes": "200MiB"}])
    backend: Literal["auto", "pandas", "cudf"] = Field("auto", description=(
        "The frame library: `auto` picks cuDF when a GPU is visible and cuDF and dask-cuDF "
        "import, else pandas; `cudf` where it cannot run fails the run (exit 2). `assay run "
        "--backend` replaces it; the summary and the manifest name the backend that ran."),
        examples=["pandas"])  # see pipelines/backend.py
    base_dir: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check_references(self) -> PipelineSpec:
        labels = [step.label for step in self.steps]
        duplicates = {label for label in labels if labels.count(label) > 1}
        if duplicates:
            raise ValueError(
                f"steps {sorted(duplicates)} share a label: give them distinct 'name's"
            )
        for i, step in enumerate(self.steps[:-1]):
            if step.must_be_last:
                raise ValueError(
                    f"steps[{i}] ({step.label}): scope: dataset must be the last step (gates "
                    "may follow), since a later step could change the key or drop rows the "
                    "dataset's index would still hold; move it last or set scope: run")
        for i, gate in enumerate(self.gates):
            if gate.after is not None and gate.after not in labels:
                raise ValueError(f"gates[{i}].after: no step is named {gate.after!r}")
        self._check_step_columns()
        gate_names = [g.name for g in self.gates]
        if len(set(gate_names)) != len(gate_names):
            raise ValueError("gates must have distinct names")
        return self

    def _check_step_columns(self) -> None:
        """Walk the schema's columns through the steps so a step naming a column that will
        not exist fails the spec, not the run (skipped when unknown extras are kept)."""
        if self.schema_.extra_columns == "keep":
            return
        columns = self.schema_.names
        for i, step in enumerate(self.steps):
            try:
                columns = step.output_columns(columns)
            except ValueError as exc:
                raise ValueError(f"steps[{i}]: {exc}") from None

    def resolve(self, relative: str) -> str:
        """A spec path made absolute against the spec's folder (URLs pass through)."""
        if "://" in relative or Path(relative).is_absolute():
            return relative
        return str((self.base_dir / relative).resolve())

    def sha256(self) -> str:
        # when and how uploads arrive, and how the work is cut (block size) and spread
        # (cluster), do not change the dataset: not hashed
        canonical = self.model_dump_json(by_alias=True, exclude={
            "base_dir": True, "schedule": True, "intake": True, "cluster": True,
            "source": {"block_size"}})
        return hashlib.sha256(canonical.encode()).hexdigest()


def _location(loc: tuple[Any, ...]) -> str:
    """pydantic's error location as a spec key path, e.g. ``steps[2].columns``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith(
            ("function-", "tagged-union", "union[")
        ):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node pydantic's error location points at: the deepest key the
    location names (parts that are no key, such as a step's union tag, are passed over)."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((value for key, value in node.value
                          if isinstance(key, yaml.ScalarNode) and key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is not None:
            node, line = found, found.start_mark.line + 1
    return line


def format_validation_error(exc: ValidationError, source: str,
                            tree: yaml.Node | None = None) -> str:
    """One line per problem: the file, the line (given the YAML ``tree``), the key."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = _line(tree, loc)
        where = f"{source}: line {line}" if line is not None else source
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {_location(loc)}: {message}")
    return "\n".join(lines)


def parse_spec(data: Any, source: str, base_dir: Path, tree: yaml.Node | None = None,
               suites: bool = True) -> PipelineSpec:
    """Validate a spec mapping; raise SpecError with one line per problem (naming its line
    where ``tree``, the YAML nodes ``data`` was read from, is given). ``suites=False``
    leaves the gates' suites unread: ``assay suite draft --spec`` writes one of them."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a YAML mapping, got {type(data).__name__}")
    try:
        spec = PipelineSpec.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source, tree)) from None
    _bind_step_files(spec, source, tree)
    _check_step_types(spec, source, tree)
    if suites:
        _check_gate_suites(spec, source)
    return spec


def _bind_step_files(spec: PipelineSpec, source: str, tree: yaml.Node | None) -> None:
    """Each step reads the files it names (a decontamination's evaluation sets) against the
    spec's folder now: a missing or malformed one fails the spec."""
    for index, step in enumerate(spec.steps):
        try:
            step.bind_files(spec.resolve)
        except ValueError as exc:
            line = _line(tree, ("steps", index))
            where = f"{source}: line {line}" if line is not None else source
            raise SpecError(f"{where}: steps[{index}] ({step.label}): {exc}") from None


def _check_step_types(spec: PipelineSpec, source: str, tree: yaml.Node | None) -> None:
    """Each step takes the types the schema and the steps before it give its columns
    (``normalize`` on an int64 column fails the spec, not the run)."""
    from assay.pipelines.spec_columns import StepTypeError, columns_after_steps

    try:
        columns_after_steps(spec)
    except StepTypeError as exc:
        line = _line(tree, ("steps", exc.index))
        where = f"{source}: line {line}" if line is not None else source
        raise SpecError(f"{where}: {exc}") from None


def _check_gate_suites(spec: PipelineSpec, source: str) -> None:
    """Load each gate's suite, resolve its scopes and check its columns at the gate now, so
    an unknown expectation, a refused scope or a column the gate will not have (or text
    for a numeric expectation) fails the spec, not the run. Every problem is named."""
    if not spec.gates:
        return
    from assay.pipelines.spec_columns import gate_frames
    from assay.validation.gate_columns import column_problems, split_problems
    from assay.validation.scope import scopes_of
    from assay.validation.suite import SuiteError, load_gate_suite

    frames, problems = gate_frames(spec), []
    for i, gate in enumerate(spec.gates):
        try:
            suite = load_gate_suite(gate, spec.resolve)
            scopes_of(suite.expectations, gate.scope)
        except SuiteError as exc:
            problems += [f"gates[{i}] ({gate.name}): {line}" for line in str(exc).splitlines()]
            continue
        meta, known = frames[gate.name] or (None, False)
        lines = column_problems(suite, meta, known) if meta is not None else []
        lines += split_problems(suite, spec.sink.split and spec.sink.split.key, meta, known)
        problems += [f"gates[{i}] ({gate.name}): {line}" for line in lines]
    if problems:
        raise SpecError("\n".join(f"{source}: {line}" for line in problems))


# libyaml's parser where PyYAML has it (its wheels do): the same documents and marks as the
# pure-Python parser, which took about 60 ms of every run to read a spec
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its nodes (for line numbers), parsed once."""
    loader = SAFE_LOADER(text)
    try:
        tree = loader.get_single_node()
        return (None if tree is None else loader.construct_document(tree)), tree
    finally:
        loader.dispose()


def load_spec(path: str | Path, suites: bool = True) -> PipelineSpec:
    """Read and validate a spec file (its gates' suites too, unless ``suites=False``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec: {exc.strerror or exc}") from None
    try:
        data, tree = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_spec(data, str(path), path.resolve().parent, tree, suites)
