"""Rebuild the committed samples (``events/`` and ``records/``) and their EXPECTED records.

The samples start from the generator's *clean* output (only cosmetic dirt: case, stray
whitespace, quoted commas) and every defect is hand-placed here, one defect per row, so the
expected fate of each line, and the run's whole accounting, is known exactly. Run
``python data_samples/build_samples.py`` after changing this file and commit the result;
``tests/samples`` checks that the committed files still say what ``expected.json`` claims.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

if __package__ in (None, ""):  # run as a script: make ``data_samples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_samples.generate import (
    CLEAN_EVENTS,
    CLEAN_RECORDS,
    COUNTRIES,
    EVENT_COLUMNS,
    csv_lines,
    dirty_events,
    dirty_records,
    write_bytes,
)

HERE = Path(__file__).resolve().parent
LONG_TEXT = "the customer wrote a very long complaint " * 7  # > 200 characters


@dataclass
class Line:
    """One line of a sample upload: a row's values, or raw text for a line that is not a
    row; ``fate`` is set for each hand-placed defect (None = curated)."""

    values: dict[str, Any] | None = None
    raw: str | None = None
    fate: dict[str, Any] | None = None
    duplicate_of: Line | None = None
    note: str | None = None  # looks dirty but is kept: documented, not counted


@dataclass
class SampleFile:
    """A sample upload being assembled; line numbers are fixed only when it is written."""

    name: str
    header: str | None
    lines: list[Line] = field(default_factory=list)

    def line_no(self, line: Line) -> int:
        index = next(i for i, other in enumerate(self.lines) if other is line)
        return index + 1 + (self.header is not None)

    def set(self, index: int, fate: str, stage: str, why: str, **values: Any) -> Line:
        line = self.lines[index]
        assert line.values is not None and line.fate is None, f"row {index} already edited"
        line.values.update(values)
        line.fate = {"fate": fate, "stage": stage, "why": why}
        return line

    def keep(self, index: int, note: str, **values: Any) -> Line:
        line = self.lines[index]
        assert line.values is not None and line.fate is None and line.note is None
        line.values.update(values)
        line.note = note
        return line

    def insert(self, index: int, line: Line) -> Line:
        self.lines.insert(index, line)
        return line


def _duplicate(source: Line, why: str = "exact copy of an earlier row") -> Line:
    return Line(
        values=dict(source.values or {}),
        duplicate_of=source,
        fate={"fate": "dropped", "stage": "dedup", "why": why},
    )


def _row_lines(frame: pd.DataFrame) -> list[Line]:
    return [Line(values=row) for row in frame.to_dict("records")]


# -- events ---------------------------------------------------------------------------------


def build_events() -> list[SampleFile]:
    base = dirty_events(3000, seed=20240611, dirt=CLEAN_EVENTS)
    one = SampleFile("uploads/events-1.csv", ",".join(EVENT_COLUMNS))
    two = SampleFile("uploads/events-2.csv.gz", ",".join(EVENT_COLUMNS))
    one.lines = _row_lines(base.iloc[:1500])
    two.lines = _row_lines(base.iloc[1500:])

    q = "quarantined"
    # Value-level defects, one per row (edit rows before inserting lines, indices are rows).
    one.set(40, q, "parse_timestamp", "February 30 does not exist", ts="2024-02-30T10:00:00Z")
    bad_ts = one.set(95, q, "parse_timestamp", "not a timestamp", ts="not a date")
    one.set(130, q, "parse_timestamp", "hour 25, minute 61", ts="2024-06-01T25:61:00Z")
    one.set(210, q, "amount_present", "amount is empty (null)", amount="")
    one.set(260, q, "amount_present", "amount is empty (null)", amount="")
    one.set(333, q, "range_filter", "amount below 0", amount="-12.50")
    one.set(402, q, "range_filter", "amount above 1e6", amount="2500000.00")
    one.set(480, q, "country_allowed", "country 'XX' is not allowed", country="XX")
    one.set(512, q, "country_allowed", "country is empty (null)", country="")
    one.set(600, q, "country_allowed", "'usa' upper-cases to 'USA', not allowed", country="usa")
    one.set(705, q, "read", "event_id '12x' is not int64", event_id="12x")
    one.set(777, q, "gate:quality", "user is empty (null): gate expects not null", user="")
    one.set(
        850,
        q,
        "gate:quality",
        "text longer than 200 characters: gate expects at most 200",
        text=LONG_TEXT.strip(),
    )
    one.keep(900, "amount exactly 0.00: the range [0, 1e6] is inclusive", amount="0.00")
    one.keep(901, "amount exactly 1000000.00: the range is inclusive", amount="1000000.00")
    one.keep(902, "country ' fr ' strips and upper-cases to 'FR'", country=" fr ")
    one.keep(903, "user '\\t  MiXeD.Case  ' normalises to 'mixed.case'", user="\t  MiXeD.Case  ")
    # Lines inserted from the end backwards, so the row indices above stay valid.
    src = one.lines[1200]
    one.insert(1203, _duplicate(src))
    near = one.lines[1100]
    assert near.values is not None
    one.insert(
        1101,
        Line(
            values=near.values
            | {
                "user": f"  {near.values['user'].strip().upper()} ",
                "country": near.values["country"].strip().lower(),
            },
            duplicate_of=near,
            fate={
                "fate": "dropped",
                "stage": "dedup",
                "why": "equal to an earlier row once user and country are normalised",
            },
        ),
    )
    one.insert(1001, _duplicate(one.lines[1000]))
    one.insert(
        990,
        Line(
            raw=_csv_line({**(one.lines[989].values or {}), "text": None}),
            fate={
                "fate": q,
                "stage": "read",
                "why": "malformed: 5 fields, the text field is missing",
            },
        ),
    )
    row = dict(one.lines[560].values or {}, event_id="10999999", text="late, lost, refunded")
    one.insert(
        561,
        Line(
            raw=_csv_line(row, quote=False),
            fate={
                "fate": q,
                "stage": "read",
                "why": "malformed: 8 fields, the text's commas are unquoted",
            },
        ),
    )
    one.insert(
        97,
        Line(
            values=dict(bad_ts.values or {}),
            duplicate_of=bad_ts,
            fate={
                "fate": q,
                "stage": "parse_timestamp",
                "why": "copy of a bad-timestamp row: quarantined too, "
                "not deduplicated (dedup runs after the quarantine)",
            },
        ),
    )

    two.set(55, q, "parse_timestamp", "day/month order, not ISO 8601", ts="31/12/2024 10:00")
    two.set(300, q, "amount_present", "amount is empty (null)", amount="")
    two.set(640, q, "country_allowed", "country '??' is not allowed", country="??")
    two.set(1250, q, "parse_timestamp", "month 13", ts="2024-13-01T00:00:00Z")
    two.insert(1400, _duplicate(two.lines[1399]))
    two.insert(700, _duplicate(one.lines[20], "exact copy of a row of events-1.csv"))
    return [one, two]


def _csv_line(values: dict[str, Any], quote: bool = True) -> str:
    """One CSV line of ``values`` (None leaves the field out; quote=False writes raw)."""
    present = {k: v for k, v in values.items() if v is not None}
    if not quote:
        return ",".join(str(v) for v in present.values())
    frame = pd.DataFrame([present], dtype="str")
    return csv_lines(frame).to_pylist()[0]


def _events_text(sample: SampleFile) -> bytes:
    rows = [line for line in sample.lines if line.values is not None]
    rendered = iter(
        csv_lines(pd.DataFrame([r.values for r in rows], columns=list(EVENT_COLUMNS))).to_pylist()
    )
    out = [sample.header] if sample.header else []
    out += [next(rendered) if line.values is not None else line.raw for line in sample.lines]
    return ("\n".join(out) + "\n").encode()


# -- records --------------------------------------------------------------------------------


def build_records() -> list[SampleFile]:
    lines = dirty_records(2000, seed=20240612, dirt=CLEAN_RECORDS)
    one = SampleFile("uploads/records.jsonl", None)
    two = SampleFile("uploads/records-2.jsonl.zst", None)
    one.lines = [Line(values=json.loads(t)) for t in lines.iloc[:1200]]
    two.lines = [Line(values=json.loads(t)) for t in lines.iloc[1200:]]
    q = "quarantined"
    one.set(60, q, "parse_timestamp", "2023 is not a leap year", signup_date="2023-02-29")
    one.set(140, q, "range_filter", "age 150 above 120", age=150)
    one.set(141, q, "range_filter", "age 7 below 13", age=7)
    one.set(222, q, "plan_known", "plan 'gold' is not a known plan", plan="gold")
    one.set(300, q, "read", "id is null but not nullable", id=None)
    one.set(
        410,
        q,
        "gate:quality",
        "email has no '@': gate expects the email pattern",
        email="bob.example.com",
    )
    one.keep(500, "plan 'professional' maps to 'pro'", plan="professional")
    one.keep(501, "plan 'FREE' maps to 'free'", plan="FREE")
    one.keep(502, "score is missing: null, allowed", score=...)
    one.keep(
        503, "name '  ZoË   Smith ' normalises (NFKC, collapsed spaces)", name="  ZoË   Smith "
    )
    one.insert(1000, _duplicate(one.lines[998]))
    one.insert(900, Line(raw="", note="a blank line: skipped, not a record"))
    one.insert(
        700,
        Line(
            raw='{"id": 700, "name": "x", "age": 31,}',
            fate={"fate": q, "stage": "read", "why": "invalid JSON: trailing comma"},
        ),
    )
    one.insert(
        650,
        Line(
            raw=_json_line(one.lines[649].values or {}, age='"thirty"'),
            fate={"fate": q, "stage": "read", "why": 'wrong type: age is the string "thirty"'},
        ),
    )
    one.insert(
        450,
        Line(
            raw="{'id': 450, 'name': 'single quotes'}",
            fate={"fate": q, "stage": "read", "why": "invalid JSON: single quotes"},
        ),
    )
    one.insert(
        120,
        Line(
            raw='{"id": 120, "name": "trunc',
            fate={"fate": q, "stage": "read", "why": "invalid JSON: truncated"},
        ),
    )

    two.set(77, q, "parse_timestamp", "not a date", signup_date="yesterday")
    two.set(500, q, "plan_known", "plan '' (empty) is not a known plan", plan="")
    two.insert(600, _duplicate(one.lines[10], "exact copy of a record of records.jsonl"))
    two.insert(
        300,
        Line(
            raw=_json_line(two.lines[299].values or {}, score='"high"'),
            fate={"fate": q, "stage": "read", "why": 'wrong type: score is the string "high"'},
        ),
    )
    two.insert(
        200,
        Line(
            raw="not json at all",
            fate={"fate": q, "stage": "read", "why": "invalid JSON: not an object"},
        ),
    )
    return [one, two]


def _json_line(values: dict[str, Any], **raw: str) -> str:
    """A record as one JSON line; ``raw`` values are spliced in as written (for wrong types);
    a value of ``...`` leaves the key out."""
    parts = []
    for key, value in values.items():
        if value is ...:
            continue
        text = raw.get(key, json.dumps(value, ensure_ascii=False))
        parts.append(f"{json.dumps(key)}: {text}")
    return "{" + ", ".join(parts) + "}"


def _records_text(sample: SampleFile) -> bytes:
    out = [
        _json_line(line.values) if line.values is not None else line.raw or ""
        for line in sample.lines
    ]
    return ("\n".join(out) + "\n").encode()


# -- expected ---------------------------------------------------------------------------------


def expected(files: list[SampleFile], extra: dict[str, Any]) -> dict[str, Any]:
    """The fate of every hand-placed line and the accounting that follows from it."""
    bad, kept, inputs = [], [], {}
    by_stage: dict[str, int] = {}
    dropped: dict[str, int] = {}
    rows_read = 0
    for sample in files:
        records = [ln for ln in sample.lines if ln.values is not None or (ln.raw or "").strip()]
        inputs[sample.name] = {
            "rows_read": len(records),
            "lines": len(sample.lines) + (sample.header is not None),
            "header": sample.header is not None,
        }
        rows_read += len(records)
        for line in sample.lines:
            where = {"file": sample.name, "line": sample.line_no(line)}
            if line.note:
                kept.append(where | {"why": line.note})
            if not line.fate:
                continue
            entry = where | line.fate
            if line.duplicate_of is not None:
                owner = next(s for s in files if any(o is line.duplicate_of for o in s.lines))
                entry["duplicate_of"] = {
                    "file": owner.name,
                    "line": owner.line_no(line.duplicate_of),
                }
            bad.append(entry)
            counter = dropped if line.fate["fate"] == "dropped" else by_stage
            counter[line.fate["stage"]] = counter.get(line.fate["stage"], 0) + 1
    quarantined, n_dropped = sum(by_stage.values()), sum(dropped.values())
    return {
        **extra,
        "line_numbers": "1-based, counting the header line of a CSV file",
        "inputs": inputs,
        "bad_lines": bad,
        "kept_lines": kept,
        "accounting": {
            "rows_read": rows_read,
            "rows_written": rows_read - quarantined - n_dropped,
            "rows_quarantined": quarantined,
            "rows_dropped": n_dropped,
            "quarantined_by_stage": dict(sorted(by_stage.items())),
            "dropped_by_step": dropped,
        },
    }


def _markdown(title: str, intro: str, exp: dict[str, Any]) -> str:
    acc = exp["accounting"]
    out = [
        f"# {title}: what a run must do",
        "",
        intro,
        "",
        "Generated by `data_samples/build_samples.py` (do not edit by hand); the same facts "
        "are in `expected.json`, which `tests/samples` reads. Line numbers are "
        f"{exp['line_numbers']}.",
        "",
        "## Accounting",
        "",
        "| | rows |",
        "| --- | ---: |",
    ]
    for name, info in exp["inputs"].items():
        out.append(f"| read from `{name}` | {info['rows_read']} |")
    out += [
        f"| **rows read** | {acc['rows_read']} |",
        f"| rows written (curated) | {acc['rows_written']} |",
        f"| rows quarantined | {acc['rows_quarantined']} |",
    ]
    out += [
        f"| &nbsp;&nbsp;by `{stage}` | {n} |" for stage, n in acc["quarantined_by_stage"].items()
    ]
    out.append(f"| rows dropped | {acc['rows_dropped']} |")
    out += [f"| &nbsp;&nbsp;by `{step}` | {n} |" for step, n in acc["dropped_by_step"].items()]
    out += [
        "",
        "Stages are the reader (`read`), a step's label, or `gate:<name>`.",
        "",
        "## Bad lines",
        "",
        "| file | line | fate | stage | why |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for b in exp["bad_lines"]:
        why = b["why"]
        if "duplicate_of" in b:
            d = b["duplicate_of"]
            why += f" (line {d['line']} of `{d['file']}`)"
        out.append(
            f"| `{b['file']}` | {b['line']} | {b['fate']} | `{b['stage']}` | "
            f"{why.replace('|', '/')} |"
        )
    out += [
        "",
        "## Lines that look dirty but are kept",
        "",
        "| file | line | why |",
        "| --- | ---: | --- |",
    ]
    out += [f"| `{k['file']}` | {k['line']} | {k['why']} |" for k in exp["kept_lines"]]
    out += [
        "",
        f"Every other line is clean apart from cosmetic dirt the steps normalise "
        f"({exp['cosmetic_dirt']}).",
        "",
    ]
    return "\n".join(out)


def write_sample(
    folder: Path, files: list[SampleFile], render: Any, exp: dict[str, Any], title: str, intro: str
) -> None:
    for sample in files:
        write_bytes(render(sample), folder / sample.name)
    (folder / "expected.json").write_text(json.dumps(exp, indent=2, ensure_ascii=False) + "\n")
    (folder / "EXPECTED.md").write_text(_markdown(title, intro, exp))


def main(root: Path = HERE) -> None:
    events = build_events()
    write_sample(
        root / "events",
        events,
        _events_text,
        expected(
            events,
            {
                "pipeline": "pipeline.yaml",
                "allowed_countries": list(COUNTRIES),
                "cosmetic_dirt": "user case and stray whitespace, lower-case or "
                "space-padded country codes, quoted commas",
            },
        ),
        "events sample",
        "Two CSV uploads (one gzip) of purchase events, run by `pipeline.yaml` "
        "(normalise, parse timestamps, quarantine bad amounts and countries, dedup, gate "
        "`quality` with `suites/events.json`).",
    )
    records = build_records()
    write_sample(
        root / "records",
        records,
        _records_text,
        expected(
            records,
            {
                "pipeline": "pipeline.yaml",
                "cosmetic_dirt": "name case and stray spaces, upper-case emails, "
                "plan aliases such as 'Pro' or 'trial'",
            },
        ),
        "records sample",
        "Two JSON Lines uploads (one zstd) of user records, run by `pipeline.yaml` "
        "(normalise, map plan aliases, parse dates, quarantine bad ages and plans, dedup, gate "
        "`quality` with `suites/records.json`).",
    )
    print(f"wrote the samples under {root}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
