"""The committed text sample is what its ``expected.json`` claims, checked without the
engine: the planted near-duplicates' similarities, the PII, the quotes of HumanEval."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from data_samples import build_text_sample as build

SAMPLE = Path(build.__file__).parent / "text"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((SAMPLE / "expected.json").read_text())


def _lines(name: str) -> list[str]:
    path = SAMPLE / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as text:
        return text.read().splitlines()


@pytest.fixture(scope="module")
def records(expected: dict) -> dict[tuple[str, int], dict | None]:
    """Each line's record by (file, line); None for a line that is not JSON."""
    found: dict[tuple[str, int], dict | None] = {}
    for name, facts in expected["inputs"].items():
        lines = _lines(name)
        assert len(lines) == facts["lines"]
        for number, line in enumerate(lines, start=1):
            try:
                found[name, number] = json.loads(line)
            except json.JSONDecodeError:
                found[name, number] = None
    return found


def test_every_line_has_one_expected_fate(expected: dict, records: dict) -> None:
    assert {(line["file"], line["line"]) for line in expected["lines"]} == set(records)
    unreadable = [line for line in expected["lines"] if records[line["file"], line["line"]]
                  is None or records[line["file"], line["line"]]["text"] is None]
    assert [(line["fate"], line["stage"]) for line in unreadable] == [("quarantined", "read")] * 2


def test_near_duplicates_have_the_similarity_written_down(expected: dict,
                                                          records: dict) -> None:
    by_id = {record["id"]: record for record in records.values() if record}
    planted = [line for line in expected["lines"] if line["stage"] == "near_dedup"]
    assert len(planted) == 8
    for line in planted:
        text = records[line["file"], line["line"]]["text"]
        kept = by_id[line["near_duplicate_of"]]
        assert build.jaccard(text, kept["text"]) == pytest.approx(line["jaccard"], abs=1e-6)
        assert line["jaccard"] >= expected["threshold"]
        assert kept["id"] < records[line["file"], line["line"]]["id"]  # the keeper is earlier
    distant = [line for line in expected["lines"] if "under the threshold" in line["why"]]
    assert len(distant) == 1 and distant[0]["fate"] == "written"
    text = records[distant[0]["file"], distant[0]["line"]]["text"]
    assert max(build.jaccard(text, r["text"]) for r in by_id.values()
               if r["text"] and r["text"] != text) < expected["threshold"]


def test_pii_lines_hold_what_is_redacted(expected: dict, records: dict) -> None:
    planted = [line for line in expected["lines"] if "pii" in line]
    assert sorted(line["pii"] for line in planted) == sorted(build.PII)
    for line in planted:
        _, found, token = build.PII[line["pii"]]
        text = records[line["file"], line["line"]]["text"]
        assert found in text and line["redacted"] == text.replace(found, token)


def test_contaminated_lines_quote_humaneval(expected: dict, records: dict) -> None:
    with gzip.open(SAMPLE / "eval" / "HumanEval.jsonl.gz", "rt") as problems:
        prompts = [json.loads(line)["prompt"] for line in problems]
    assert len(prompts) == 164
    quoting = [line for line in expected["lines"] if line["stage"] == "decontaminate"]
    assert len(quoting) == 3
    for line in quoting:
        assert any(prompt in records[line["file"], line["line"]]["text"] for prompt in prompts)
