"""What a gate did, said the same way everywhere: the run's summary, the manifest that
``assay inspect`` reads, the aborted run's record the Prefect artifacts read, and the HTML
report. A quarantine gate that routed rows did its job: ``quarantined N rows``, not a
failure."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest

from assay.flows.artifacts import aborted_gate_results
from assay.pipelines.errors import GateAborted
from assay.pipelines.summary import GateOutcome
from tests.pipelines.test_pipeline import EVENTS, QUALITY, SCHEMA, STEPS


@pytest.fixture(autouse=True)
def events(uploads) -> None:
    """Every test here runs on test_pipeline's events upload."""
    uploads("events.csv", EVENTS.encode())


def _page_text(path: Path) -> str:
    html = re.sub(r"<style.*?</style>", " ", path.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_a_quarantine_gate_that_routed_rows_says_so(make_spec, run) -> None:
    version = run(make_spec(schema=SCHEMA, steps=STEPS, gates=[QUALITY]))
    gate = version.manifest["gates"][0]

    assert (gate["aborted"], gate["outcome"]) == (None, "quarantined")
    assert GateOutcome.from_entry(gate).label() == "quarantined 3 rows"
    assert ("gate quality", "quarantined 3 rows") in version.summary.rows()
    page = _page_text((Path(version.path) / gate["result_path"]).with_suffix(".html"))
    assert "gate quality (suite quality) ⚠ quarantined 3 rows 0 of 3 expectations met" in page
    assert "rows read 8" in page and "dropped by dedup 1" in page
    assert "Failed" not in page and "FAIL" not in page


@pytest.mark.parametrize(("gate", "reason"), [
    ({**QUALITY, "policy": "abort"}, "gate 'quality' failed"),
    ({**QUALITY, "max_quarantined_fraction": 0.1}, "above max_quarantined_fraction"),
])
def test_a_gate_that_aborted_the_run_says_aborted(make_spec, run, tmp_path: Path,
                                                  gate: dict, reason: str) -> None:
    spec = make_spec(schema=SCHEMA, steps=STEPS, gates=[gate])
    with pytest.raises(GateAborted, match=reason):
        run(spec)
    record = json.loads(next((tmp_path / "out").glob("_assay/runs/*/ABORTED.json")).read_text())
    plan = SimpleNamespace(sink_path=str(tmp_path / "out"), spec=spec, run_id=record["run_id"])

    kept = aborted_gate_results(plan)
    assert [GateOutcome.from_entry(g).label() for g in kept] == ["aborted"]
    assert reason in kept[0]["aborted"] and kept[0]["result"]["success"] is False
    assert kept[0]["outcome"] == "aborted"
    page = _page_text(tmp_path / "out" / "_assay" / "runs" / record["run_id"] / "gates"
                      / "quality.html")
    assert "gate quality (suite quality) ✗ aborted" in page


def test_a_failed_warn_gate_says_warned(make_spec, run) -> None:
    version = run(make_spec(schema=SCHEMA, steps=STEPS, gates=[{**QUALITY, "policy": "warn"}]))

    assert [g.label() for g in version.summary.gates] == ["warned"]
