"""The generator is deterministic and as dirty as it says; the committed samples are exactly
what ``expected.json`` claims. No assay engine here: the samples are checked against a small,
independent row-by-row reference of their pipelines, so a wrong EXPECTED can't hide behind a
wrong engine (and vice versa)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zstandard

from data_samples import build_samples
from data_samples.generate import (
    BAD_TIMESTAMPS,
    COUNTRIES,
    EVENT_COLUMNS,
    csv_bytes,
    dirty_events,
    dirty_records,
    write_csv_files,
)

SAMPLES = Path(build_samples.__file__).parent
N = 200_000


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return dirty_events(N, seed=3)


def test_events_are_deterministic() -> None:
    a, b = dirty_events(5_000, seed=11), dirty_events(5_000, seed=11)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(dirty_events(5_000, seed=12))
    assert list(a.columns) == list(EVENT_COLUMNS) and len(a) == 5_000


def test_records_are_deterministic() -> None:
    assert dirty_records(3_000, seed=5).tolist() == dirty_records(3_000, seed=5).tolist()
    assert len(dirty_records(3_000, seed=5)) == 3_000


def _rate(mask: pd.Series) -> float:
    return float(mask.mean())


def test_event_dirt_rates(events: pd.DataFrame) -> None:
    assert _rate(events.duplicated()) == pytest.approx(0.01, rel=0.05)
    parsed = pd.to_datetime(events["ts"], format="ISO8601", utc=True, errors="coerce")
    assert _rate(parsed.isna()) == pytest.approx(0.002, rel=0.25)
    assert set(events["ts"][parsed.isna()]) <= set(BAD_TIMESTAMPS)
    amount = pd.to_numeric(events["amount"].replace("", None))
    assert _rate(amount.isna()) == pytest.approx(0.02, rel=0.1)
    assert _rate(amount < 0) == pytest.approx(0.001, rel=0.3)
    assert 0 < (amount > 1e6).sum() < N * 0.001
    country = events["country"].str.strip().str.upper()
    assert _rate(~country.isin(COUNTRIES)) == pytest.approx(0.01, rel=0.15)
    assert _rate(events["country"].str.islower()) > 0.1
    user = events["user"]
    assert _rate(user != user.str.strip()) == pytest.approx(0.1, rel=0.2)
    assert _rate(user.str.strip() != user.str.strip().str.lower()) > 0.15
    assert _rate(events["text"].str.contains(",")) > 0.1
    assert events["event_id"].str.fullmatch(r"\d+").all()


def test_csv_round_trips_with_quoting(events: pd.DataFrame, tmp_path: Path) -> None:
    head = events.iloc[:20_000]
    back = pd.read_csv(io.BytesIO(csv_bytes(head)), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, head.astype(object), check_dtype=False)
    paths = write_csv_files(head, tmp_path, n_files=3)
    assert [p.name for p in paths] == ["events-000.csv", "events-001.csv", "events-002.csv"]
    assert sum(len(p.read_bytes().splitlines()) - 1 for p in paths) == len(head)


def test_record_dirt_rates() -> None:
    lines = dirty_records(50_000, seed=2)
    parsed = []
    for text in lines:
        try:
            parsed.append(json.loads(text))
        except json.JSONDecodeError:
            parsed.append(None)
    bad = np.array([p is None or not isinstance(p, dict) for p in parsed])
    assert bad.mean() == pytest.approx(0.002, rel=0.4)
    records = [p for p in parsed if isinstance(p, dict)]
    wrong_type = np.mean([isinstance(p.get("age"), str) for p in records])
    assert wrong_type == pytest.approx(0.002, rel=0.4)
    # the few broken lines repeat each other; count copies among the valid ones
    assert lines[~bad].duplicated().mean() == pytest.approx(0.005, rel=0.3)


# -- the committed samples ----------------------------------------------------------------


def _read_upload(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data.decode("utf-8")


def _expected(sample: str) -> dict[str, Any]:
    return json.loads((SAMPLES / sample / "expected.json").read_text())


def _fates(found: dict[tuple[str, int], str], exp: dict[str, Any]) -> None:
    """``found`` maps (file, line) to the stage that removed it; compare with EXPECTED."""
    want = {(b["file"], b["line"]): b["stage"] for b in exp["bad_lines"]}
    assert found == want
    by_stage = Counter(stage for stage in found.values() if stage != "dedup")
    acc = exp["accounting"]
    assert dict(by_stage) == acc["quarantined_by_stage"]
    assert sum(s == "dedup" for s in found.values()) == acc["dropped_by_step"]["dedup"]


def _normal(text: str | None, case: str) -> str | None:
    if text is None:
        return None
    return getattr(text.strip(), case)()


def test_events_sample_matches_expected() -> None:
    """A row-by-row reference of ``events/pipeline.yaml`` reproduces every listed fate."""
    exp = _expected("events")
    found: dict[tuple[str, int], str] = {}
    seen: set[tuple] = set()
    survivors: list[tuple[tuple[str, int], dict]] = []
    rows_read = 0
    for name in exp["inputs"]:
        text = _read_upload(SAMPLES / "events" / name)
        lines = text.splitlines()
        assert lines[0] == ",".join(EVENT_COLUMNS)
        for number, fields in enumerate(csv.reader(lines[1:]), start=2):
            rows_read += 1
            key = (name, number)
            if len(fields) != len(EVENT_COLUMNS):
                found[key] = "read"
                continue
            row: dict[str, Any] = {
                c: (v if v != "" else None) for c, v in zip(EVENT_COLUMNS, fields, strict=True)
            }
            if row["event_id"] is None or not re.fullmatch(r"-?\d+", row["event_id"]):
                found[key] = "read"
                continue
            row["user"] = _normal(row["user"], "lower")
            row["country"] = _normal(row["country"], "upper")
            ts = pd.to_datetime(row["ts"], format="ISO8601", utc=True, errors="coerce")
            amount = None if row["amount"] is None else float(row["amount"])
            if pd.isna(ts):
                found[key] = "parse_timestamp"
            elif amount is None:
                found[key] = "amount_present"
            elif not 0 <= amount <= 1e6:
                found[key] = "range_filter"
            elif row["country"] not in exp["allowed_countries"]:
                found[key] = "country_allowed"
            else:
                identity = (
                    int(row["event_id"]),
                    ts,
                    row["user"],
                    row["country"],
                    amount,
                    row["text"],
                )
                if identity in seen:
                    found[key] = "dedup"
                else:
                    seen.add(identity)
                    survivors.append((key, row))
    for key, row in survivors:
        if row["user"] is None or len(row["text"] or "") > 200:
            found[key] = "gate:quality"
    _fates(found, exp)
    assert rows_read == exp["accounting"]["rows_read"]
    assert sum(i["rows_read"] for i in exp["inputs"].values()) == rows_read


_PLAN_ALIASES = {
    "Pro": "pro",
    "PRO": "pro",
    "professional": "pro",
    "Free": "free",
    "FREE": "free",
    "trial": "free",
}
_EMAIL = re.compile(r"^[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+$")


def _typed_record(text: str) -> dict[str, Any] | None:
    """The record if the reader can type it, else None (invalid JSON or wrong types)."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    numeric = {"id": int, "age": int, "score": (int, float)}
    for column, kinds in numeric.items():
        value = record.get(column)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            return None
    return record if record.get("id") is not None else None


def test_records_sample_matches_expected() -> None:
    """A row-by-row reference of ``records/pipeline.yaml`` reproduces every listed fate."""
    exp = _expected("records")
    found: dict[tuple[str, int], str] = {}
    seen: set[str] = set()
    survivors: list[tuple[tuple[str, int], dict]] = []
    rows_read = 0
    for name in exp["inputs"]:
        for number, text in enumerate(_read_upload(SAMPLES / "records" / name).splitlines(), 1):
            if not text.strip():
                continue
            rows_read += 1
            key = (name, number)
            record = _typed_record(text)
            if record is None:
                found[key] = "read"
                continue
            name_ = record.get("name")
            if name_ is not None:
                record["name"] = " ".join(unicodedata.normalize("NFKC", name_).split())
            if record.get("email") is not None:
                record["email"] = record["email"].strip().lower()
            record["plan"] = _PLAN_ALIASES.get(record.get("plan"), record.get("plan"))
            try:
                datetime.strptime(record["signup_date"], "%Y-%m-%d")
            except (TypeError, ValueError):
                found[key] = "parse_timestamp"
                continue
            if record.get("age") is not None and not 13 <= record["age"] <= 120:
                found[key] = "range_filter"
            elif record["plan"] not in ("free", "pro", "team", "enterprise"):
                found[key] = "plan_known"
            elif (identity := json.dumps(record, sort_keys=True)) in seen:
                found[key] = "dedup"
            else:
                seen.add(identity)
                survivors.append((key, record))
    ids = Counter(r["id"] for _, r in survivors)
    for key, record in survivors:
        email = record.get("email")
        if (email is not None and not _EMAIL.match(email)) or ids[record["id"]] > 1:
            found[key] = "gate:quality"
    _fates(found, exp)
    assert rows_read == exp["accounting"]["rows_read"]


@pytest.mark.parametrize("sample", ["events", "records"])
def test_samples_are_small_and_reproducible(sample: str, tmp_path: Path) -> None:
    """The committed files are what build_samples.py writes (compared decompressed: zlib
    versions may compress differently)."""
    folder = SAMPLES / sample
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 1_000_000
    build_samples.main(tmp_path)
    exp = _expected(sample)
    assert json.loads((tmp_path / sample / "expected.json").read_text()) == exp
    for name in exp["inputs"]:
        assert _read_upload(tmp_path / sample / name) == _read_upload(folder / name)
    assert (tmp_path / sample / "EXPECTED.md").read_text() == (folder / "EXPECTED.md").read_text()


def test_sample_specs_load() -> None:
    """The specs name only steps and expectations assay knows (loading checks both)."""
    spec_module = pytest.importorskip("assay.pipelines.spec")
    for sample in ("events", "records"):
        spec = spec_module.load_spec(SAMPLES / sample / "pipeline.yaml")
        labels = {step.label for step in spec.steps}
        stages = {b["stage"] for b in _expected(sample)["bad_lines"]}
        gates = {f"gate:{g.name}" for g in spec.gates}
        assert stages <= labels | gates | {"read"}
        assert spec.sink.path == f"../../out/{sample}"
