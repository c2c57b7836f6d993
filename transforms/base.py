"""The step contract and the registry every transform joins.

A step is a pydantic model (its parameters, validated when the spec loads) with an ``op``
literal that names it in YAML. Partition steps see one partition of *live* rows at a time and
must keep the row order and count of their input: to remove rows they return a mask, so the
engine can account for every row and keep the removed ones with their reason. Global steps
(dedup) see the whole Dask frame and are applied by the engine between partition chains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.transforms.frame import Column, Frame

Fate = Literal["dropped", "quarantined"]
# Joins the reasons of one row (a row can fail several checks at once); the engine splits
# on it to store ``_reasons`` as a list and to count each reason.
REASON_SEP = "\x1f"
REMOVED = "_removed"
REMOVED_REASON = "_removed_reason"


@dataclass
class StepResult:
    """What a partition step returns.

    ``frame`` has the same rows, in the same order, as the step's input. ``removed`` is a
    boolean column over those rows (True = the row leaves the live set) or None.
    ``reason`` explains removed rows: one string for all, or a string column.
    ``fate`` says whether removed rows count as dropped (an intended filter) or quarantined
    (bad data). ``counts`` (only from a step whose ``counted`` is True): named per-row
    counts (integer or boolean columns over the same rows), which the engine sums over the
    rows live at this step into the accounting's ``counts_by_step`` (e.g. PII found by kind).
    """

    frame: Frame
    removed: Column | None = None
    reason: Column | str | None = None
    fate: Fate = "dropped"
    counts: Mapping[str, Column] | None = None


class Step(BaseModel):
    """Common keys of every step: ``op`` (which transform), an optional ``name`` used in
    accounting and reasons, and ``keep_removed`` to keep removed rows for inspection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str
    name: str | None = Field(None, description=(
        "The step's label in accounting and reasons (default: its `op`); needed when an op "
        "is used twice, and what a gate's `after` names."), examples=["country_upper"])
    keep_removed: bool = Field(False, description=(
        "Keep the rows this step drops in the quarantine folder, with `_fate: dropped`, "
        "for inspection (they still count as dropped)."), examples=[True])

    is_global: ClassVar[bool] = False
    # Whether ``apply`` may return ``counts``: the engine then collects them (a chain
    # without such a step runs as before, with no extra task).
    counted: ClassVar[bool] = False
    # Whether its kernels make many temporary arrays of a few MiB (the text steps): a run
    # with one keeps them in its worker processes' heap (``assay.pipelines.workers``).
    heap_temporaries: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return self.name or self.op

    @property
    def must_be_last(self) -> bool:
        """Whether only gates may follow this step (a step whose output outlives the run,
        as a dataset-wide dedup's index, must see the rows and values that are published)."""
        return False

    def output_columns(self, columns: list[str]) -> list[str]:
        """The data columns after this step, given those before (for spec checks)."""
        return columns

    # whether its kernels make many temporary arrays of a few MiB (the text steps): a run
    # with one gives its worker processes a heap that keeps them (``pipelines.workers``)
    heap_temporaries: ClassVar[bool] = False

    def bind_files(self, resolve: Callable[[str], str]) -> None:
        """Read the files this step names (``resolve`` makes a spec's path absolute) when
        the spec loads, so a missing or malformed one fails the spec, not the run; raise a
        ValueError naming the file. Most steps name none."""

    def bound_files(self) -> list[dict[str, str]]:
        """The files ``bind_files`` read, each as ``name``, ``path`` and ``sha256``: what
        the output depends on besides the uploads, written down in the manifest."""
        return []


class PartitionStep(Step):
    """A step applied to each partition independently (no shuffle)."""

    def apply(self, frame: Frame) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError


class GlobalStep(Step):
    """A step that must see all rows (it adds a shuffle)."""

    is_global: ClassVar[bool] = True

    def check_meta(self, meta: Frame) -> None:
        """Raise a ValueError where the columns of ``meta`` (an empty typed frame of the
        step's input) have types this step cannot take: called when a spec loads and again
        by ``apply_dask``."""

    def apply_dask(self, live: Any, data_columns: list[str], input_bytes: int,
                   published: Any = None) -> Any:  # pragma: no cover
        """Given the Dask frame of live rows (data columns plus the engine's lineage columns
        ``_source_id`` and ``_source_line``), the inputs' total size (to size the
        shuffle's output by the data, not by how the read cut it) and what the published
        table holds for this step (a dataset-wide dedup's index; None: nothing), return a
        Dask frame of the same rows with a boolean column ``_removed`` marking the rows this
        step removes, and optionally a string column ``_removed_reason`` (null: the step's
        default reason)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step available to specs under its ``op`` literal."""
    op = cls.model_fields["op"].default
    if not isinstance(op, str) or op in _REGISTRY:
        raise TypeError(f"step {cls.__name__} needs a unique default op, got {op!r}")
    _REGISTRY[op] = cls
    return cls


def registered_steps() -> dict[str, type[Step]]:
    """Every step by op, ordered by module, then as each module defines them: the same
    order whichever module a process imported first (the spec's union and the reference
    follow it)."""
    import assay.transforms.library  # noqa: F401  (registers every step)

    defined = {op: place for place, op in enumerate(_REGISTRY)}
    ordered = sorted(_REGISTRY.items(), key=lambda item: (item[1].__module__, defined[item[0]]))
    return dict(ordered)
