"""What the standard job is, in one place, for the three hand-written peers.

The job: trim and lower-case ``user``, trim and upper-case ``country``, parse ``ts``
(ISO 8601, UTC); quarantine rows with a bad timestamp, a null amount, an amount outside
[0, 1e6] or a country outside ``ALLOWED_COUNTRIES`` (first failing check is the reason); drop
exact duplicate rows among the rest; write curated and quarantine zstd Parquet. Each peer
prints one ``RESULT {json}`` line of counts so ``run_standard.py`` can check they agree.

This module imports nothing heavy, so it adds no start-up time to any peer.
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLUMNS = ("event_id", "ts", "user", "country", "amount", "text")
ALLOWED_COUNTRIES = ("US", "DE", "FR", "JP", "BR", "IN")
MIN_AMOUNT, MAX_AMOUNT = 0.0, 1_000_000.0
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the one valid form in the data (see data_samples)
STRIP_CHARS = " \t"  # the whitespace the generator puts around values
# Reasons, in the order the checks apply.
BAD_TS, NULL_AMOUNT, AMOUNT_RANGE, BAD_COUNTRY = (
    "bad timestamp",
    "null amount",
    "amount out of range",
    "country not allowed",
)


@dataclass
class Counts:
    read: int
    curated: int
    quarantined: int
    duplicates: int
    by_reason: dict[str, int] = field(default_factory=dict)  # quarantined rows per reason

    def report(self) -> None:
        """The line run_standard.py parses; read must equal the sum of the others."""
        assert self.read == self.curated + self.quarantined + self.duplicates, self
        assert sum(self.by_reason.values()) == self.quarantined, self
        self.by_reason = dict(sorted(self.by_reason.items()))
        print("RESULT " + json.dumps(asdict(self)), flush=True)


@dataclass
class Args:
    inputs: list[str]
    curated: Path  # a Parquet file to write
    quarantine: Path


def parse_args(description: str) -> Args:
    """``--input GLOB`` (repeatable) and ``--output DIR`` (replaced if it exists)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", "-i", action="append", required=True)
    parser.add_argument("--output", "-o", type=Path, required=True)
    args = parser.parse_args()
    inputs = sorted(path for pattern in args.input for path in glob.glob(pattern))
    if not inputs:
        parser.error(f"no input matches {args.input}")
    shutil.rmtree(args.output, ignore_errors=True)
    args.output.mkdir(parents=True)
    return Args(inputs, args.output / "curated.parquet", args.output / "quarantine.parquet")
