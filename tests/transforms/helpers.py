"""What step tests share: the step contract's assertions, and a spec file for a step over
documents (an ``id`` and a ``text``) in ``uploads/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

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


def documents_spec(folder: Path, step: dict, **sections: object) -> Path:
    """``folder/pipeline.yaml``: ``step`` over the JSON Lines documents of
    ``folder/uploads`` (an ``id`` and a ``text``), published to ``folder/out``."""
    spec = {
        "name": "docs",
        "source": {"paths": ["uploads"]},
        "schema": {"columns": [{"name": "id", "type": "int64"},
                               {"name": "text", "type": "string"}]},
        "steps": [step],
        "sink": {"path": "out"},
        **sections,
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
