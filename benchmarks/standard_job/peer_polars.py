"""The standard job in Polars, lazy and on the streaming engine: both outputs are sinks of
one plan, so the scan is shared and the data never has to fit in memory at once."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq

from benchmarks.standard_job import job


def main() -> None:
    args = job.parse_args(__doc__.splitlines()[0])
    raw = pl.scan_csv(args.inputs, schema=dict.fromkeys(job.COLUMNS, pl.String), has_header=True)
    amount = pl.col("amount").cast(pl.Float64)
    country = pl.col("country").str.strip_chars(job.STRIP_CHARS).str.to_uppercase()
    ts = pl.col("ts").str.strptime(pl.Datetime("us"), job.TS_FORMAT, strict=False)
    checked = raw.with_columns(
        event_id_t=pl.col("event_id").cast(pl.Int64),
        ts_t=ts.dt.replace_time_zone("UTC"),
        user_t=pl.col("user").str.strip_chars(job.STRIP_CHARS).str.to_lowercase(),
        country_t=country,
        amount_t=amount,
    ).with_columns(
        reason=pl.when(pl.col("ts_t").is_null())
        .then(pl.lit(job.BAD_TS))
        .when(pl.col("amount_t").is_null())
        .then(pl.lit(job.NULL_AMOUNT))
        .when(~pl.col("amount_t").is_between(job.MIN_AMOUNT, job.MAX_AMOUNT))
        .then(pl.lit(job.AMOUNT_RANGE))
        .when(~pl.col("country_t").is_in(job.ALLOWED_COUNTRIES).fill_null(False))
        .then(pl.lit(job.BAD_COUNTRY))
    )
    good = checked.filter(pl.col("reason").is_null())
    curated = good.select(
        event_id="event_id_t",
        ts="ts_t",
        user="user_t",
        country="country_t",
        amount="amount_t",
        text="text",
    ).unique()
    quarantine = checked.filter(pl.col("reason").is_not_null()).select(*job.COLUMNS, "reason")
    _, _, counts = pl.collect_all(
        [
            curated.sink_parquet(args.curated, compression="zstd", lazy=True),
            quarantine.sink_parquet(args.quarantine, compression="zstd", lazy=True),
            checked.group_by("reason").len(),
        ],
        engine="streaming",
    )
    by_reason = {reason or "": n for reason, n in counts.iter_rows()}
    read, good = sum(by_reason.values()), by_reason.pop("", 0)
    written = pq.read_metadata(args.curated).num_rows
    job.Counts(read, written, read - good, good - written, by_reason).report()


if __name__ == "__main__":
    main()
