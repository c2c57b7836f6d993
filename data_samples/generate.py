"""Deterministic generators of realistic dirty uploads, for samples, tests and benchmarks.

Everything is vectorised (numpy draws, pyarrow string kernels), so the benchmark's 4M-row
"standard job" input generates in seconds, and the same ``(n_rows, seed)`` always gives the
same values. Values are returned as the *raw strings* an upload holds ("" = empty field),
because the dirt lives in the text: a reader and the steps are what turn it into types.

Run ``python data_samples/generate.py --rows 1000000 --out /tmp/events`` to write CSV uploads,
or ``--kind records`` for JSON Lines.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_COLUMNS = ("event_id", "ts", "user", "country", "amount", "text")
COUNTRIES = ("US", "DE", "FR", "JP", "BR", "IN")
COUNTRY_WEIGHTS = (0.40, 0.15, 0.12, 0.12, 0.11, 0.10)
JUNK_COUNTRIES = ("XX", "??", "", "usa", "U.S.", "D E", "--")
# Unparseable by every engine we compare (pandas ISO8601, DuckDB strptime, Polars chrono):
# no ISO-valid variants here, so "bad timestamp" means the same thing to all of them.
BAD_TIMESTAMPS = (
    "2024-02-30T10:00:00Z",
    "2024-13-01T00:00:00Z",
    "not a date",
    "31/12/2024 10:00",
    "2024-06-01T25:61:00Z",
    "yesterday",
    "0000-00-00T00:00:00Z",
)
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PLANS = ("free", "pro", "team", "enterprise")
PLAN_ALIASES = {"pro": ("Pro", "PRO", "professional"), "free": ("Free", "FREE", "trial")}
MAX_AMOUNT = 1_000_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    """alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert
    sybil trent victor walter xavier yasmin zoe liam emma noah ava oliver mia lucas sofia mateo
    chloe hugo lea jonas anna felix marie kenji yuki haruto aiko arjun priya rohan ananya joao
    ana pedro beatriz josé zoë émile jürgen françois søren"""
)
_LAST = _words(
    """smith jones brown garcia miller davis martin bernard dubois muller schmidt schneider
    fischer weber tanaka suzuki sato kumar sharma patel singh silva santos oliveira costa lopez
    nguyen kim park chen wang müller lefèvre gonçalves"""
)
_WORDS = _words(
    """order shipped refund requested payment failed retry card declined upgrade plan cancelled
    subscription renewed trial started coupon applied invoice sent address changed login from
    new device password reset support ticket opened closed gift wrap express delivery
    warehouse delay customs hold partial return exchange approved"""
)


@dataclass(frozen=True)
class EventDirt:
    """Rates of each kind of dirt in :func:`dirty_events` (fractions of rows).

    The cosmetic rates (case, whitespace) only need normalising; the others make a row
    quarantined or dropped by the standard job.
    """

    duplicate_rows: float = 0.01
    bad_timestamp: float = 0.002
    amount_null: float = 0.02
    amount_negative: float = 0.001
    amount_too_large: float = 0.0002
    country_junk: float = 0.01
    country_lower: float = 0.15
    country_space: float = 0.02
    user_case: float = 0.25
    user_space: float = 0.10
    text_null: float = 0.01
    text_comma: float = 0.15
    text_quote: float = 0.005


CLEAN_EVENTS = EventDirt(
    duplicate_rows=0,
    bad_timestamp=0,
    amount_null=0,
    amount_negative=0,
    amount_too_large=0,
    country_junk=0,
)
"""Only cosmetic dirt: the samples start from this and hand-place every defect."""


@dataclass(frozen=True)
class RecordDirt:
    """Rates of each kind of dirt in :func:`dirty_records` (fractions of lines)."""

    invalid_json: float = 0.002
    wrong_type: float = 0.002
    missing_field: float = 0.005
    null_score: float = 0.01
    age_out_of_range: float = 0.005
    plan_alias: float = 0.05
    name_space: float = 0.10
    email_upper: float = 0.05
    duplicate_lines: float = 0.005


CLEAN_RECORDS = RecordDirt(
    invalid_json=0,
    wrong_type=0,
    missing_field=0,
    null_score=0,
    age_out_of_range=0,
    duplicate_lines=0,
)

_BROKEN_JSON = (
    '{"id": 1, "name": "truncated',
    "not json at all",
    '{"id": 2, "name": "x",}',
    "{'id': 3, 'name': 'single quotes'}",
    '{"id": 4}{"id": 5}',
    '["a", "list", "not", "an", "object"]',
)


# -- small vectorised helpers -------------------------------------------------------------


def _pick(
    rng: np.random.Generator, pool: Sequence[str], n: int, p: Sequence[float] | None = None
) -> pa.Array:
    """``n`` strings drawn from ``pool`` (a take, not a Python loop)."""
    return pa.array(pool, pa.string()).take(pa.array(rng.choice(len(pool), n, p=p)))


def _where(mask: np.ndarray | pa.Array, then: pa.Array, other: pa.Array) -> pa.Array:
    return pc.if_else(mask if isinstance(mask, pa.Array) else pa.array(mask), then, other)


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _decimal(cents: np.ndarray) -> pa.Array:
    """Integer cents as exact two-decimal strings ("-12.05"), so every reader parses the
    same float from them."""
    magnitude = np.abs(cents)
    whole = pc.cast(pa.array(magnitude // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(magnitude % 100), pa.string()), 2, "0")
    sign = _where(cents < 0, pa.scalar("-"), pa.scalar(""))
    return _join(sign, whole, ".", frac)


def _pool(rng: random.Random, n: int, make: Callable[[random.Random], str]) -> list[str]:
    return [make(rng) for _ in range(n)]


def _user_name(rng: random.Random) -> str:
    sep = rng.choice((".", "_", ""))
    tail = str(rng.randrange(100)) if rng.random() < 0.4 else ""
    return f"{rng.choice(_FIRST)}{sep}{rng.choice(_LAST)}{tail}"


def _phrase(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.randint(2, 6))
    return " ".join(words)


def _mask(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate


# -- events (CSV) ---------------------------------------------------------------------------


def dirty_events(n_rows: int, seed: int = 0, dirt: EventDirt = EventDirt()) -> pd.DataFrame:
    """``n_rows`` raw event rows (all strings, "" = empty field) of the standard job.

    About ``dirt.duplicate_rows`` of the rows are exact copies of an earlier row, placed a
    little after it; every other kind of dirt is drawn independently per row.
    """
    rng = np.random.default_rng(seed)
    text_rng = random.Random(seed)
    n_dup = round(n_rows * dirt.duplicate_rows)
    n = n_rows - n_dup

    event_id = 10_000_000 + np.cumsum(rng.integers(1, 4, n))
    seconds = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64) + rng.integers(
        0, 366 * 86400, n
    )
    ts = pc.strftime(pa.array(seconds, pa.timestamp("s")), format=TS_FORMAT)
    ts = _where(_mask(rng, n, dirt.bad_timestamp), _pick(rng, BAD_TIMESTAMPS, n), ts)

    user = _pick(rng, _pool(text_rng, 20_000, _user_name), n)
    case = rng.random(n)
    user = _where(case < dirt.user_case / 2, pc.utf8_upper(user), user)
    user = _where((case >= dirt.user_case / 2) & (case < dirt.user_case), pc.utf8_title(user), user)
    spaces = ("", " ", "  ", "\t")
    spaced = _mask(rng, n, dirt.user_space)
    user = _where(spaced, _join(_pick(rng, spaces, n), user, _pick(rng, spaces, n)), user)

    country = _pick(rng, COUNTRIES, n, COUNTRY_WEIGHTS)
    country = _where(_mask(rng, n, dirt.country_lower), pc.utf8_lower(country), country)
    country = _where(_mask(rng, n, dirt.country_space), _join(" ", country), country)
    country = _where(_mask(rng, n, dirt.country_junk), _pick(rng, JUNK_COUNTRIES, n), country)

    cents = np.minimum(np.round(rng.lognormal(3.5, 1.3, n) * 100), MAX_AMOUNT * 100)
    cents = cents.astype(np.int64)
    kind = rng.random(n)
    negative = kind < dirt.amount_negative
    huge = (kind >= dirt.amount_negative) & (kind < dirt.amount_negative + dirt.amount_too_large)
    cents[negative] = -rng.integers(1, 50_000, int(negative.sum()))
    cents[huge] = rng.integers(MAX_AMOUNT * 100 + 1, MAX_AMOUNT * 1000, int(huge.sum()))
    amount = _where(_mask(rng, n, dirt.amount_null), pa.scalar(""), _decimal(cents))

    phrases = _pool(text_rng, 5_000, _phrase)
    text = _pick(rng, phrases, n)
    text = _where(_mask(rng, n, dirt.text_comma), _join(_pick(rng, phrases, n), ", ", text), text)
    text = _where(_mask(rng, n, dirt.text_quote), _join(text, ' "asap"'), text)
    text = _where(_mask(rng, n, dirt.text_null), pa.scalar(""), text)

    table = pa.table(
        {
            "event_id": pc.cast(pa.array(event_id), pa.string()),
            "ts": ts,
            "user": user,
            "country": country,
            "amount": amount,
            "text": text,
        }
    )
    return _with_duplicates(table, n_dup, rng).to_pandas()


def _with_duplicates(table: pa.Table, n_dup: int, rng: np.random.Generator) -> pa.Table:
    """Insert ``n_dup`` exact copies of distinct rows, each shortly after its original."""
    n = table.num_rows
    if n_dup == 0 or n == 0:
        return table
    sources = rng.choice(n, size=min(n_dup, n), replace=False)
    lag = rng.integers(1, 2_000, len(sources))
    position = np.concatenate([np.arange(n, dtype=np.float64), sources + lag + 0.5])
    order = np.concatenate([np.arange(n), sources])[np.argsort(position, kind="stable")]
    return table.take(pa.array(order))


def _csv_field(values: pa.Array) -> pa.Array:
    """Minimal CSV quoting: only values holding a comma, quote or line break are quoted."""
    quoted = _join('"', pc.replace_substring(values, '"', '""'), '"')
    return _where(pc.match_substring_regex(values, '[,"\r\n]'), quoted, values)


def csv_lines(df: pd.DataFrame) -> pa.Array:
    """Each row of ``df`` (raw strings) as one CSV line, without the newline."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = [
        _csv_field(pc.fill_null(col.combine_chunks().cast(pa.string()), ""))
        for col in table.columns
    ]
    return pc.binary_join_element_wise(*fields, ",")


def _concat_lines(lines: pa.Array) -> bytes:
    """The lines joined with newlines, straight from the Arrow buffer (no Python strings)."""
    if len(lines) == 0:
        return b""
    lines = _join(lines, "\n")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[len(lines)]]


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as CSV text with a header; "" values become empty fields (nulls). One Arrow
    string array holds the text, so keep each file under 2 GiB (write_csv_files splits)."""
    header = ",".join(df.columns).encode() + b"\n"
    return header + _concat_lines(csv_lines(df))


def write_bytes(data: bytes, path: Path) -> Path:
    """Write ``data``, compressed by the file's extension (.gz, .zst); reproducibly (gzip
    without a timestamp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    elif path.suffix == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor(level=9).compress(data)
    path.write_bytes(data)
    return path


def write_csv_files(
    df: pd.DataFrame,
    out_dir: str | Path,
    n_files: int = 8,
    prefix: str = "events",
    suffix: str = ".csv",
) -> list[Path]:
    """Split ``df`` into ``n_files`` contiguous CSV uploads ``<prefix>-000<suffix>`` ..."""
    out = Path(out_dir)
    bounds = np.linspace(0, len(df), n_files + 1).astype(int)
    return [
        write_bytes(csv_bytes(df.iloc[lo:hi]), out / f"{prefix}-{i:03d}{suffix}")
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
    ]


# -- records (JSON Lines) -------------------------------------------------------------------


def dirty_records(n_rows: int, seed: int = 0, dirt: RecordDirt = RecordDirt()) -> pd.Series:
    """``n_rows`` JSON Lines texts of user records (id, name, email, age, score,
    signup_date, plan, country, active), some of them invalid JSON or wrongly typed."""
    rng = np.random.default_rng(seed)
    text_rng = random.Random(seed)
    n_dup = round(n_rows * dirt.duplicate_lines)
    n = n_rows - n_dup
    ids = 1 + np.arange(n)
    people = _pool(text_rng, 5_000, _user_name)
    who = rng.choice(len(people), n)
    name = pa.array(people).take(pa.array(who))
    name = _where(_mask(rng, n, 0.3), pc.utf8_title(name), name)
    name = _where(_mask(rng, n, dirt.name_space), _join("  ", name, " "), name)
    domains = ("example.com", "mail.test", "corp.example", "inbox.test")
    local = pc.replace_substring_regex(pa.array(people).take(pa.array(who)), r"[^a-z0-9._]", "")
    email = _join(local, "@", _pick(rng, domains, n))
    email = _where(_mask(rng, n, dirt.email_upper), pc.utf8_upper(email), email)
    age = rng.integers(16, 90, n)
    bad_age = _mask(rng, n, dirt.age_out_of_range)
    age[bad_age] = rng.choice([-1, 0, 7, 150, 999], int(bad_age.sum()))
    age_text = pc.cast(pa.array(age), pa.string())
    age_text = _where(
        _mask(rng, n, dirt.wrong_type), _pick(rng, ('"thirty"', '"n/a"'), n), age_text
    )
    score = _join(
        "0.", pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 1000, n)), pa.string()), 3, "0")
    )
    score = _where(_mask(rng, n, dirt.null_score), pa.scalar("null"), score)
    days = np.datetime64("2020-01-01", "D") + rng.integers(0, 5 * 365, n)
    signup = _join('"', pc.strftime(pa.array(days.astype("datetime64[s]")), format="%Y-%m-%d"), '"')
    plan = _pick(rng, PLANS, n, (0.6, 0.25, 0.1, 0.05))
    alias_pool = [a for aliases in PLAN_ALIASES.values() for a in aliases]
    plan = _where(_mask(rng, n, dirt.plan_alias), _pick(rng, alias_pool, n), plan)
    country = _pick(rng, COUNTRIES, n, COUNTRY_WEIGHTS)
    active = _pick(rng, ("true", "false"), n, (0.8, 0.2))

    fields = {
        "id": pc.cast(pa.array(ids), pa.string()),
        "name": _join('"', pc.replace_substring(name, '"', '\\"'), '"'),
        "email": _join('"', email, '"'),
        "age": age_text,
        "score": score,
        "signup_date": signup,
        "plan": _join('"', plan, '"'),
        "country": _join('"', country, '"'),
        "active": active,
    }
    missing = rng.choice(["email", "score", "country"], n)
    missing_mask = _mask(rng, n, dirt.missing_field)
    pieces = []
    for key, values in fields.items():
        piece = _join(f'"{key}": ', values)
        drop = missing_mask & (missing == key)
        pieces.append(_where(drop, pa.nulls(n, pa.string()), piece))
    body = pc.binary_join_element_wise(*pieces, ", ", null_handling="skip")
    line = _join("{", body, "}")
    line = _where(_mask(rng, n, dirt.invalid_json), _pick(rng, _BROKEN_JSON, n), line)
    table = _with_duplicates(pa.table({"line": line}), n_dup, rng)
    return table.column("line").to_pandas()


def jsonl_bytes(lines: Sequence[str] | pd.Series) -> bytes:
    return _concat_lines(
        pa.array(list(lines) if not isinstance(lines, pd.Series) else lines, pa.string())
    )


# -- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--kind", choices=("events", "records"), default="events")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "events" / "uploads" / "generated"
    )
    args = parser.parse_args(argv)
    if args.kind == "events":
        paths = write_csv_files(dirty_events(args.rows, args.seed), args.out, args.files)
    else:
        lines = dirty_records(args.rows, args.seed)
        bounds = np.linspace(0, len(lines), args.files + 1).astype(int)
        paths = [
            write_bytes(jsonl_bytes(lines.iloc[lo:hi]), args.out / f"records-{i:03d}.jsonl")
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
        ]
    total = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {args.rows:,} {args.kind} rows to {len(paths)} files in {args.out} "
        f"({total / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
