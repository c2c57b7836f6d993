"""The cuDF backend gives the pandas backend's answers (the checks are in ``parity.py``).

Runs where a GPU is visible and cuDF imports; skips the whole module elsewhere (CI, the
2-core development machines), saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay.pipelines.backend import gpu_stack_problem, visible_gpus

pytestmark = pytest.mark.gpu

_PROBLEM = "no GPU is visible" if not visible_gpus() else gpu_stack_problem()
if _PROBLEM:
    pytest.skip(f"cuDF parity tests need cuDF on a GPU: {_PROBLEM}", allow_module_level=True)

import cudf  # noqa: E402  (only importable past the skip)

from tests.gpu import parity  # noqa: E402


@pytest.mark.parametrize("case", parity.STEP_CASES, ids=lambda c: c["op"])
@pytest.mark.parametrize("empty", [False, True], ids=["rows", "empty"])
def test_step_parity(case: dict[str, Any], empty: bool) -> None:
    parity.check_step(case, empty, cudf.from_pandas)


@pytest.mark.parametrize("catalogue", range(len(parity.CATALOGUES)))
@pytest.mark.parametrize("npartitions", [1, 3])
def test_expectation_parity(catalogue: int, npartitions: int) -> None:
    parity.check_expectations(catalogue, npartitions, cudf.from_pandas)


def test_csv_reader_parity(tmp_path: Path) -> None:
    parity.check_csv_reader(tmp_path, "cudf")


@pytest.mark.parametrize("sample", ["events", "records", "text"])
def test_sample_parity(sample: str, tmp_path: Path) -> None:
    parity.check_sample(sample, tmp_path, "cudf")
