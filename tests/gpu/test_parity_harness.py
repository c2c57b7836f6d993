"""The parity checks themselves, on every machine: pandas stands in for cuDF (a copy of the
frame), so a check that no longer runs (a renamed helper, a changed catalogue) fails here,
not first on a lent GPU. Every step and expectation must also have a parity case."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.gpu import parity


def _stand_in(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.copy()


def test_every_registered_step_has_a_parity_case() -> None:
    assert parity.uncovered_steps() == set()


def test_every_expectation_has_parity_cases() -> None:
    assert parity.uncovered_expectations() == set()


@pytest.mark.parametrize("case", parity.STEP_CASES, ids=lambda c: c["op"])
def test_step_check_runs(case: dict) -> None:
    parity.check_step(case, False, _stand_in)


def test_expectation_check_runs() -> None:
    parity.check_expectations(0, 2, _stand_in)


def test_csv_reader_check_runs(tmp_path: Path) -> None:
    parity.check_csv_reader(tmp_path, "pandas")


def test_sample_check_runs(tmp_path: Path) -> None:
    parity.check_sample("events", tmp_path, "pandas")
