"""An append must keep the table's columns: one line naming each changed column, and
nothing published (the table stays at its version, no run's files are left)."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from assay.pipelines.errors import SpecError
from tests.pipelines.conftest import BASIC_SCHEMA
from tests.published import leftovers


def test_an_append_that_changes_a_column_is_refused_naming_it(make_spec, uploads, run):
    first = run(make_spec(sink={"path": "out", "mode": "append"}),
                inputs=[str(uploads("a.csv", b"id,name,amount\n1,a,1.0\n"))])
    changed = {"columns": [*BASIC_SCHEMA["columns"][:2],
                           {"name": "amount", "type": "string"},
                           {"name": "city", "type": "string"}]}
    spec = make_spec(schema=changed, sink={"path": "out", "mode": "append"})
    with pytest.raises(SpecError, match=(
            r"out: an append must keep the table's columns \(amount: double in the table, "
            r"string in this run, city: absent in the table, string in this run\); change "
            r"them with one run in sink.mode: overwrite")):
        run(spec, inputs=[str(uploads("b.csv", b"id,name,amount,city\n2,b,x,Oslo\n"))])
    assert DeltaTable(first.path).version() == first.version
    assert leftovers(first.path) == []
