"""The append's dedup in DuckDB SQL: the upload's distinct rows that no row of the table
holds (``EXCEPT`` compares whole rows, nulls equal, as assay's dedup does), read over the
table's Parquet files as ``DeltaTable(p).file_uris()`` lists them, written as zstd Parquet.

    python -m benchmarks.append_job.peer_duckdb UPLOAD TABLE OUT
"""

from __future__ import annotations

import json
import sys

import duckdb
from deltalake import DeltaTable

COLUMNS = {"event_id": "BIGINT", "ts": "VARCHAR", "user": "VARCHAR", "country": "VARCHAR",
           "amount": "DOUBLE", "text": "VARCHAR"}


def main() -> None:
    upload, table, out = sys.argv[1:4]
    files = DeltaTable(table).file_uris()
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    con = duckdb.connect()
    con.execute(f"""
        COPY (SELECT * FROM read_csv($upload, header = true, auto_detect = false,
                                     columns = {{{columns}}}, quote = '"', escape = '"')
              EXCEPT
              SELECT {names} FROM read_parquet($files))
        TO '{out}' (FORMAT parquet, COMPRESSION zstd)
    """, {"upload": upload, "files": files})
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    print("RESULT " + json.dumps({"rows_added": rows}))


if __name__ == "__main__":
    main()
