"""What an expectation needs to know about the whole table to judge one partition.

An expectation declares its requests (``Expectation.requests``); the gate collects them over
the suite, builds each distinct one once, in the run's graph
(``assay.validation.dask_gate.answer``), and hands every partition the answers, keyed by
request. Requests are frozen dataclasses, so equal requests from two expectations share one
answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DuplicatesOf:
    """Which rows' values of ``columns`` occur in another row of the table.

    Answer: a bool column per partition, True for those rows (``assay.validation.
    duplicates``). A single column ignores nulls (GE does); several keep them, null equal
    to null. None when a column is missing.
    """

    columns: tuple[str, ...]


@dataclass(frozen=True)
class PreviousValue:
    """The last non-null value of ``column`` in the partitions before this one.

    Answer: a frame with one column, ``value``, and at most one row (none in the first
    partition, or when every value before is null). None when the column is missing.
    """

    column: str


@dataclass(frozen=True)
class CrossSplitNearDuplicates:
    """Which rows' text in ``column`` is a near-duplicate (verified exact Jaccard of the
    n-gram sets at or above ``threshold``) of a row's that the sink's split puts in another
    split (``assay.validation.near_splits``).

    Answer: a frame per partition with one row per such pair end in the partition: the
    row's position (``row``), its key and split, its partner's key and split, and their
    Jaccard. None when the column is missing or the spec has no ``sink.split``.
    """

    column: str
    threshold: float
    unit: str
    ngram: int
    bands: int
    rows_per_band: int
    seed: int


Request = DuplicatesOf | PreviousValue | CrossSplitNearDuplicates
Answers = Mapping[Request, Any]  # a request's answer (see its class); absent when not asked
