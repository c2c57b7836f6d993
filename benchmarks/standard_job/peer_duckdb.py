"""The standard job in DuckDB SQL: what a user who knows SQL would write instead of assay.

The parsed, checked rows go to a temporary table (DuckDB spills it to disk if needed) so the
CSV files are read once for both outputs.
"""

from __future__ import annotations

import duckdb

from benchmarks.standard_job import job


def main() -> None:
    args = job.parse_args(__doc__.splitlines()[0])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    allowed = ", ".join(f"'{c}'" for c in job.ALLOWED_COUNTRIES)
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in job.COLUMNS)
    con.execute(
        f"""
        CREATE TEMP TABLE checked AS
        WITH raw AS (
            SELECT * FROM read_csv($inputs, header = true, auto_detect = false,
                                   columns = {{{columns}}}, delim = ',', quote = '"',
                                   escape = '"')
        ), typed AS (
            SELECT *,
                   CAST(event_id AS BIGINT) AS event_id_t,
                   CAST(try_strptime(ts, '{job.TS_FORMAT}') AS TIMESTAMPTZ) AS ts_t,
                   lower(trim("user", $strip)) AS user_t,
                   upper(trim(country, $strip)) AS country_t,
                   CAST(amount AS DOUBLE) AS amount_t
            FROM raw
        )
        SELECT *, CASE
            WHEN ts_t IS NULL THEN '{job.BAD_TS}'
            WHEN amount_t IS NULL THEN '{job.NULL_AMOUNT}'
            WHEN amount_t < {job.MIN_AMOUNT} OR amount_t > {job.MAX_AMOUNT}
                THEN '{job.AMOUNT_RANGE}'
            WHEN country_t IS NULL OR country_t NOT IN ({allowed}) THEN '{job.BAD_COUNTRY}'
        END AS reason
        FROM typed
    """,
        {"inputs": args.inputs, "strip": job.STRIP_CHARS},
    )
    con.execute(f"""
        COPY (SELECT DISTINCT event_id_t AS event_id, ts_t AS ts, user_t AS "user",
                              country_t AS country, amount_t AS amount, text
              FROM checked WHERE reason IS NULL)
        TO '{args.curated}' (FORMAT parquet, COMPRESSION zstd)
    """)
    raw = ", ".join(f'"{c}"' for c in job.COLUMNS)
    con.execute(f"""
        COPY (SELECT {raw}, reason FROM checked WHERE reason IS NOT NULL)
        TO '{args.quarantine}' (FORMAT parquet, COMPRESSION zstd)
    """)
    by_reason = dict(
        con.execute("SELECT coalesce(reason, ''), count(*) FROM checked GROUP BY ALL").fetchall()
    )
    read, good = sum(by_reason.values()), by_reason.pop("", 0)
    (curated,) = con.execute(f"SELECT count(*) FROM '{args.curated}'").fetchone()
    job.Counts(read, curated, read - good, good - curated, by_reason).report()


if __name__ == "__main__":
    main()
