"""What one run did, as plain data: the last phase of a run (``assay.pipelines.compose``).

The numbers are computed once, in :func:`summarize`, as label/value rows; the terminal's
table and the Prefect artifact (``assay.flows.summary``) render the same rows, so the CLI
and the Prefect UI can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine is only needed for the types here
    from assay.pipelines.publish import PublishedVersion
    from assay.pipelines.runner import StagedRun


# What a gate did, in the words every view uses (the run's summary, ``assay inspect``, the
# Prefect artifact and the HTML report): a quarantine gate that routed rows did its job.
PASSED, QUARANTINED, ABORTED, WARNED = "passed", "quarantined", "aborted", "warned"


@dataclass(frozen=True)
class GateOutcome:
    name: str
    success: bool
    policy: str | None = None
    rows_quarantined: int = 0
    failed: tuple[str, ...] = ()
    aborted: str | None = None  # why the gate aborted the run (None: it did not)

    @classmethod
    def from_entry(cls, gate: dict) -> GateOutcome:
        """From a gate's entry in the run (the manifest's ``gates`` list holds the same)."""
        return cls(str(gate["name"]), bool(gate["success"]), gate.get("policy"),
                   int(gate.get("rows_quarantined", 0)),
                   tuple(gate.get("row_level_failed", []) + gate.get("aggregate_failed", [])),
                   gate.get("aborted"))

    @property
    def kind(self) -> str:
        """``passed``, ``quarantined`` (failing rows went to the quarantine, the run went on),
        ``aborted`` (nothing published), or ``warned`` (a failed ``warn`` gate)."""
        if self.aborted:
            return ABORTED
        if self.success:
            return PASSED
        return QUARANTINED if self.policy == "quarantine" else WARNED

    def label(self) -> str:
        """What happened, in a few words: ``quarantined 1,234 rows``, ``aborted``, ..."""
        if self.kind == QUARANTINED:
            return f"quarantined {self.rows_quarantined:,} rows"
        return self.kind


@dataclass(frozen=True)
class RunSummary:
    """What a run did, as plain data (picklable, so a Prefect flow can return it)."""

    pipeline: str
    run_id: str
    backend: str
    rows_read: int
    rows_written: int
    quarantined: int
    wall_seconds: float
    shards: int
    shard_bytes: int
    version: int
    path: str
    mode: str = "overwrite"
    rows_in_dataset: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    dropped_by_step: dict[str, int] = field(default_factory=dict)
    gates: list[GateOutcome] = field(default_factory=list)
    counts_by_step: dict[str, dict[str, int]] = field(default_factory=dict)
    # seconds outside the engine, by phase (plan, cluster start, cluster stop, publish)
    phases: dict[str, float] = field(default_factory=dict)
    # how the engine ran when that is not a cluster (a small run: assay.pipelines.in_process)
    cluster: str = ""
    # the Prefect flow run that records the run, "<name> (<id>)"; "" for a run without one
    flow_run: str = ""

    @property
    def rows_per_second(self) -> float:
        """Input rows per second of engine wall time (0 when the run took no time)."""
        return self.rows_read / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped_by_step.values())

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (label, value) rows: the one layout both renderings use. Why rows
        were quarantined or dropped is in :meth:`reasons`, a table of its own."""
        out = [
            ("pipeline", self.pipeline),
            ("run id", self.run_id),
            ("backend", self.backend),
            ("rows read", f"{self.rows_read:,}"),
            ("rows written", f"{self.rows_written:,}"),
            ("rows quarantined", f"{self.quarantined:,}"),
            ("rows dropped", f"{self.rows_dropped:,}"),
            ("shards", f"{self.shards} ({_human_bytes(self.shard_bytes)})"),
        ]
        out += [(f"gate {gate.name}", gate.label()) for gate in self.gates]
        out += [(f"counted by {step}", ", ".join(f"{name} {n:,}" for name, n in named.items()
                                                 if n) or "none")  # zeros: in the manifest
                for step, named in self.counts_by_step.items()]
        out += [
            ("engine time", f"{self.wall_seconds:.2f} s"),
            ("rows per second", f"{self.rows_per_second:,.0f}"),
        ]
        out += [("cluster", self.cluster)] if self.cluster else []
        out += [(f"{phase} time", f"{seconds:.2f} s") for phase, seconds in self.phases.items()]
        verb = "appended to" if self.mode == "append" else "replaced"
        out += [
            ("version", f"{self.version} ({verb} the dataset: {self.rows_in_dataset:,} rows)"),
            ("path", self.path),
        ]
        out += [("prefect flow run", self.flow_run)] if self.flow_run else []
        return out

    def reasons(self) -> list[tuple[str, str, str]]:
        """(fate, reason, rows) of every quarantine reason and every step that dropped rows;
        a row quarantined for two reasons counts under each."""
        out = [("quarantined", reason, f"{n:,}")
               for reason, n in self.quarantined_by_reason.items()]
        out += [("dropped", f"by {step}", f"{n:,}") for step, n in self.dropped_by_step.items()]
        return out


def summarize(staged: StagedRun, published: PublishedVersion,
              phases: dict[str, float] | None = None) -> RunSummary:
    """Build the summary from the engine's StagedRun and PublishedVersion (and the seconds
    the run spent in each phase outside the engine)."""
    acc = staged.accounting
    return RunSummary(
        pipeline=staged.plan.spec.name,
        run_id=str(staged.plan.run_id),
        backend=str(staged.backend),
        rows_read=acc.rows_read,
        rows_written=acc.rows_written,
        quarantined=acc.rows_quarantined,
        quarantined_by_reason=dict(acc.quarantined_by_reason),
        dropped_by_step=dict(acc.dropped_by_step),
        shards=len(staged.shards),
        shard_bytes=sum(int(s.get("bytes", 0)) for s in staged.shards),
        gates=[GateOutcome.from_entry(g) for g in staged.gates],
        counts_by_step={step: dict(named) for step, named in acc.counts_by_step.items()},
        wall_seconds=float(staged.wall_seconds),
        version=published.version,
        path=published.path,
        mode=staged.plan.mode,
        rows_in_dataset=int(published.manifest.get("rows", acc.rows_written)),
        phases=dict(phases or {}),
    )


def _human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            break
        size /= 1024
    return f"{size:.1f} {unit}"
