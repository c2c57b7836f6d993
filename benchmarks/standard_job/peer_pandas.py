"""The standard job as a plain pandas script: read every file, mask, dedup, write.

It holds all rows in memory at once, which is what such a script does; the CSV parsing uses
pandas' pyarrow engine (its fastest) with every value read as a string, like the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.standard_job import job


def main() -> None:
    args = job.parse_args(__doc__.splitlines()[0])
    raw = pd.concat(
        [
            pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], engine="pyarrow")
            for path in args.inputs
        ],
        ignore_index=True,
    )
    frame = pd.DataFrame(
        {
            "event_id": raw["event_id"].astype("int64"),
            "ts": pd.to_datetime(raw["ts"], format="ISO8601", utc=True, errors="coerce"),
            "user": raw["user"].str.strip(job.STRIP_CHARS).str.lower(),
            "country": raw["country"].str.strip(job.STRIP_CHARS).str.upper(),
            "amount": pd.to_numeric(raw["amount"]),
            "text": raw["text"],
        }
    )
    reason = pd.Series(
        np.select(
            [
                frame["ts"].isna(),
                frame["amount"].isna(),
                ~frame["amount"].between(job.MIN_AMOUNT, job.MAX_AMOUNT),
                ~frame["country"].isin(job.ALLOWED_COUNTRIES),
            ],
            [job.BAD_TS, job.NULL_AMOUNT, job.AMOUNT_RANGE, job.BAD_COUNTRY],
            default="",
        ),
        index=raw.index,
    )
    bad = reason != ""
    curated = frame[~bad].drop_duplicates(keep="first")
    curated.to_parquet(args.curated, compression="zstd", index=False)
    raw[bad].assign(reason=reason[bad]).to_parquet(args.quarantine, compression="zstd", index=False)
    quarantined = int(bad.sum())
    by_reason = {str(k): int(v) for k, v in reason[bad].value_counts().items()}
    job.Counts(
        len(raw), len(curated), quarantined, len(raw) - quarantined - len(curated), by_reason
    ).report()


if __name__ == "__main__":
    main()
