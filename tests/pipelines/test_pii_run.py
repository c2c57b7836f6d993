"""The ``pii`` step end to end: redacted text in the published shards, quarantined rows with
their reasons, and the exact counts per kind in the manifest's accounting and the summary,
across two chains split by a global step."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from assay.pipelines import chain
from tests.pipelines.conftest import read_quarantine

DOCS = [
    "Contact jane@example.org or call (415) 555-0132 about the invoice.",
    "Our servers 203.0.113.7 and 2001:db8::1:2 were patched on 2024-03-01.",
    "Plain prose about the weather, version 1.2.3, and order #20231115-00042.",
    None,
    "Pay with 4111 1111 1111 1111 and mail bob@example.org.",
    "Wire to DE89 3704 0044 0532 0130 00, then tell ana@example.org.",
    "Pay with 4111 1111 1111 1111 and mail bob@example.org.",  # dedup drops it: its card
    # is not counted by the later step, for which the row is gone
    "Two mails a@example.org,b@example.org and a call to +44 20 7946 0958.",
]
SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "text", "type": "string"}]}
STEPS = [
    {"op": "pii", "columns": ["text"], "kinds": ["email", "phone", "ip"],
     "phone_regions": ["US", "GB"], "tokens": {"email": "[email]"}},
    {"op": "dedup", "columns": ["text"], "scope": "run"},
    {"op": "pii", "name": "payment", "columns": ["text"], "kinds": ["card", "iban"],
     "action": "quarantine"},
]


def test_run_redacts_quarantines_and_counts_every_kind(make_spec, uploads, run, monkeypatch):
    lines = [json.dumps({"id": i, "text": text}) for i, text in enumerate(DOCS)]
    uploads("docs.jsonl", ("\n".join(lines) + "\n").encode())
    rows_seen: list[tuple[str, int]] = []  # (first step, rows) of each chain call with rows
    original = chain._chain

    def recorded(part, steps, counts):
        if len(part):
            rows_seen.append((steps[0].label, len(part)))
        return original(part, steps, counts)

    monkeypatch.setattr(chain, "_chain", recorded)
    version = run(make_spec(schema=SCHEMA, steps=STEPS))
    # the counts and the routed rows come from one run of each chain, not two
    assert sorted(rows_seen) == [("payment", 8), ("pii", 8)]

    accounting = version.manifest["accounting"]
    assert accounting["counts_by_step"] == {
        "pii": {"email": 6, "ip": 2, "phone": 2},
        "payment": {"card": 1, "iban": 1},
    }
    assert accounting["dropped_by_step"] == {"dedup": 1}
    assert accounting["quarantined_by_reason"] == {"payment: contains card": 1,
                                                   "payment: contains iban": 1}
    assert ("counted by pii", "email 6, ip 2, phone 2") in version.summary.rows()
    assert ("counted by payment", "card 1, iban 1") in version.summary.rows()

    shards = [pq.read_table(Path(version.path) / shard["path"])
              for shard in version.manifest["shards"]]
    texts = {row["id"]: row["text"] for shard in shards for row in shard.to_pylist()}
    assert texts == {
        0: "Contact [email] or call <PHONE> about the invoice.",
        1: "Our servers <IP> and <IP> were patched on 2024-03-01.",
        2: DOCS[2],
        3: None,
        7: "Two mails [email],[email] and a call to <PHONE>.",
    }
    quarantined = {row["_source_line"]: row for row in read_quarantine(version)}
    assert sorted(quarantined) == [5, 6]
    assert quarantined[5]["_stage"] == "payment"
    assert quarantined[5]["_reasons"] == ["contains card"]
    # the record is the row as the quarantining step saw it: e-mails already redacted
    assert json.loads(quarantined[6]["_record"])["text"] == (
        "Wire to DE89 3704 0044 0532 0130 00, then tell [email].")


def test_counts_add_up_over_partitions_on_worker_processes(make_spec, uploads, tmp_path,
                                                           cli_cluster):
    """Many partitions, each on a `dask worker` process (the counts travel pickled): the
    manifest's counts are what the step finds in the whole input at once."""
    import pandas as pd

    import assay
    from assay.pipelines.cluster import dask_client
    from assay.pipelines.spec import ClusterSpec
    from assay.transforms.pii import Pii

    docs = [f"Doc {n}: mail u{n}@example.org, call +1 (415) 555-01{n % 100:02d}"
            + (f", host 203.0.113.{n % 250}" if n % 3 else ", nothing else") + "." * (n % 40)
            for n in range(3000)]
    uploads("docs.jsonl", "".join(json.dumps({"id": n, "text": d}) + "\n"
                                  for n, d in enumerate(docs)).encode())
    step = {"op": "pii", "columns": ["text"], "kinds": ["email", "phone", "ip"]}
    spec = make_spec(schema=SCHEMA, steps=[step],
                     source={"paths": [(tmp_path / "uploads").as_uri()], "block_size": 40_000})
    with dask_client(ClusterSpec(), address=cli_cluster.address) as client:
        version = assay.run(spec, client=client)
    whole = Pii(**step).apply(pd.DataFrame({"text": pd.Series(docs, dtype="str")}))
    expected = {kind: int(per_row.sum()) for kind, per_row in whole.counts.items()}
    assert expected == {"email": 3000, "ip": 2000, "phone": 3000}
    assert len(version.manifest["shards"]) >= 5  # one per partition
    assert version.manifest["accounting"]["counts_by_step"] == {"pii": expected}
