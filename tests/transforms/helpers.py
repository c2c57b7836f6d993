"""Assertions every step test shares."""

from __future__ import annotations

import pandas as pd

from assay.transforms.base import PartitionStep, StepResult


def apply_checked(step: PartitionStep, frame: pd.DataFrame) -> StepResult:
    """Apply ``step`` and check the contract: same rows in the same order, a removed mask
    aligned to them, an empty input giving the same columns and dtypes (the engine infers
    the output schema from an empty partition), and nullable output dtypes."""
    result = step.apply(frame)
    assert list(result.frame.index) == list(frame.index)
    if result.removed is not None:
        assert len(result.removed) == len(frame)
        assert list(result.removed.index) == list(frame.index)
    empty = step.apply(frame.iloc[:0])
    assert len(empty.frame) == 0
    assert empty.frame.dtypes.to_dict() == result.frame.dtypes.to_dict()
    assert list(step.output_columns(list(frame.columns))) == list(result.frame.columns)
    assert_nullable(result.frame)
    return result


def assert_nullable(frame: pd.DataFrame) -> None:
    """Every column can hold a null without changing dtype: the engine nulls the data
    columns of removed rows in the same partition as live ones."""
    padded = frame.reindex([*frame.index, "missing"])
    assert padded.dtypes.to_dict() == frame.dtypes.to_dict()


def removed_list(result: StepResult) -> list[bool]:
    return [bool(x) for x in result.removed]
