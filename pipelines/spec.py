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
from assay.pipelines.errors import SpecError
from assay.transforms.base import registered_steps
from assay.transforms.params import ByteSize
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
    """How CSV uploads are parsed."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    quote_char: str = Field('"', min_length=1, max_length=1)
    header: bool = True
    null_values: list[str] = Field(default_factory=lambda: [""])
    true_values: list[str] = Field(default_factory=lambda: ["true", "True", "TRUE", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "False", "FALSE", "0"])


class SourceSpec(Model):
    """Where the uploads are and how to read them."""

    paths: list[str] = Field(min_length=1)
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    block_size: ByteSize = parse_bytes("64MiB")
    # a compressed upload is decompressed whole in one task: more than this rejects it
    max_decompressed_bytes: ByteSize = parse_bytes("2GiB")
    storage_options: Options = Field(default_factory=dict)

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ColumnSpec(Model):
    name: str = Field(min_length=1)
    type: ColumnType = "string"
    nullable: bool = True
    format: str | None = None  # strptime format, for timestamp columns
    timezone: str | None = None  # zone of naive timestamps; stored as UTC

    @model_validator(mode="after")
    def _format_only_for_timestamps(self) -> ColumnSpec:
        if (self.format or self.timezone) and self.type != "timestamp":
            raise ValueError("format and timezone apply only to type 'timestamp'")
        return self


class SchemaSpec(Model):
    """The columns an upload must have, and what to do with extra or missing ones."""

    columns: list[ColumnSpec] = Field(min_length=1)
    extra_columns: Literal["drop", "keep", "reject"] = "drop"
    missing_columns: Literal["reject", "null"] = "reject"

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
    """A validation gate: a GE suite evaluated at a point of the step list."""

    name: str = Field(min_length=1)
    after: str | None = None  # a step's label; None = after the last step
    suite: str | None = None  # path of a GE 1.x suite JSON file
    expectations: list[dict[str, Any]] | None = None  # inline GE expectation configs
    policy: Literal["quarantine", "abort", "warn"] = "quarantine"
    max_quarantined_fraction: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _one_suite(self) -> GateSpec:
        if (self.suite is None) == (self.expectations is None):
            raise ValueError("give exactly one of 'suite' (a file) or 'expectations' (inline)")
        return self


class SplitSpec(Model):
    """Deterministic train/validation/test split by a stable hash of key columns."""

    key: list[str] = Field(min_length=1)
    fractions: dict[str, float] = Field(min_length=1)
    seed: int = 0

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

    path: str
    target_shard_bytes: ByteSize = parse_bytes("128MiB")
    row_group_rows: int = Field(128 * 1024, gt=0)
    compression: Literal["zstd", "snappy", "gzip", "lz4", "none"] = "zstd"
    compression_level: int | None = None
    split: SplitSpec | None = None
    storage_options: Options = Field(default_factory=dict)


class ClusterSpec(Model):
    """The Dask cluster: a local one the run starts, or an existing scheduler's address.

    A local cluster runs its workers as threads of the run's own process by default: the
    hot path is vectorised pandas/pyarrow code that releases the GIL, so threads match
    processes on speed (measured) while starting faster, sharing one copy of the libraries
    and handing shuffle data over without serialising it. ``processes: true`` isolates
    workers (one crashing cannot take the run down) at the cost of memory.
    """

    address: str | None = None
    workers: int | None = Field(None, gt=0)  # None: Dask's choice (1 in-process worker)
    threads_per_worker: int | None = Field(None, gt=0)  # None: all cores, spread over workers
    memory_limit: ByteSize | Literal["auto"] = "auto"
    processes: bool = False
    shuffle: Literal["auto", "tasks", "p2p"] = "auto"
    # GPU workers (backend cudf): one process per visible GPU, started by dask-cuda
    cuda_visible_devices: str | None = None  # e.g. "0,2"; None: the environment's
    rmm_pool_size: DeviceSize | None = 0.5  # a pool avoids cudaMalloc on the hot path
    rmm_async: bool = False  # CUDA's async allocator instead of the pool
    device_memory_limit: DeviceSize | None = None  # Dask-CUDA's own spilling; None: default
    enable_cudf_spill: bool = True  # cuDF moves buffers to host under memory pressure
    protocol: Literal["tcp", "ucx"] = "tcp"  # ucx needs the distributed-ucxx package

    def shuffle_method(self, remote: bool) -> str:
        """``auto``: the task shuffle for in-process workers, which hands partitions over by
        reference (measured 20% faster on the standard job); p2p wherever data crosses
        processes or machines, where it is built to stream and spill."""
        if self.shuffle != "auto":
            return self.shuffle
        return "p2p" if remote or self.processes else "tasks"


class ScheduleSpec(Model):
    """When a served deployment runs on its own: a cron line or an interval, in a zone."""

    cron: str | None = None  # e.g. "0 3 * * *"
    interval: float | None = Field(None, gt=0)  # seconds
    timezone: str = "UTC"  # IANA name; cron times are read in it

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of 'cron' or 'interval' (seconds)")
        return self


class IntakeSpec(Model):
    """What ``assay api`` and ``assay watch`` accept for this pipeline."""

    formats: list[Literal["csv", "jsonl", "parquet"]] = Field(
        default_factory=lambda: ["csv", "jsonl", "parquet"], min_length=1)
    max_bytes: ByteSize = parse_bytes("1GiB")


# A tagged union of every registered step, discriminated by ``op``: errors then name the
# step's index and op, e.g. ``steps[2].normalize.columns``.
AnyStep = Annotated[functools.reduce(operator.or_, registered_steps().values()),
                    Field(discriminator="op")]


class PipelineSpec(Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source: SourceSpec
    schema_: SchemaSpec = Field(alias="schema")
    steps: list[AnyStep] = Field(default_factory=list)
    gates: list[GateSpec] = Field(default_factory=list)
    sink: SinkSpec
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    schedule: ScheduleSpec | None = None  # for `assay serve`
    intake: IntakeSpec = Field(default_factory=IntakeSpec)
    backend: Literal["auto", "pandas", "cudf"] = "auto"  # see pipelines/backend.py
    base_dir: Path = Field(default=Path("."), exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check_references(self) -> PipelineSpec:
        labels = [step.label for step in self.steps]
        duplicates = {label for label in labels if labels.count(label) > 1}
        if duplicates:
            raise ValueError(
                f"steps {sorted(duplicates)} share a label: give them distinct 'name's"
            )
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


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        key = _location(tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def parse_spec(data: Any, source: str, base_dir: Path) -> PipelineSpec:
    """Validate a spec mapping; raise SpecError with one line per problem."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a YAML mapping, got {type(data).__name__}")
    try:
        spec = PipelineSpec.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None
    _check_gate_suites(spec, source)
    return spec


def _check_gate_suites(spec: PipelineSpec, source: str) -> None:
    if not spec.gates:
        return
    """Load each gate's suite now, so an unknown expectation fails the spec, not the run."""
    from assay.validation.suite import SuiteError, load_gate_suite

    for i, gate in enumerate(spec.gates):
        try:
            load_gate_suite(gate, spec.resolve)
        except SuiteError as exc:
            raise SpecError(f"{source}: gates[{i}]: {exc}") from None


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_spec(data, str(path), path.resolve().parent)
