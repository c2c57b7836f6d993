"""The quality filters run by the engine end to end: a JSONL of documents through
``assay.run`` with Gopher, C4 and FineWeb steps; every document is accounted for, scores
are published as columns, C4's rewrite is what lands in the table."""

from __future__ import annotations

import json

from tests.pipelines.conftest import read_quarantine
from tests.published import rows_of
from tests.transforms.test_quality import PROSE

SCHEMA = {"columns": [{"name": "id", "type": "int64", "nullable": False},
                      {"name": "text", "type": "string"}]}
MENU = "\n".join(["Home", "About", "Shop", "Blog", "Contact us", "Login"])
SPAM = "\n".join(["Best shoes in town, buy now at our shop!"] * 8)
STEPS = [
    {"op": "drop_null", "columns": ["text"], "action": "quarantine"},
    {"op": "gopher_quality", "column": "text", "score_prefix": "gq_", "keep_removed": True},
    {"op": "gopher_repetition", "column": "text"},
    {"op": "fineweb_quality", "column": "text"},
    {"op": "c4_quality", "column": "text", "score_prefix": "c4_"},
]


def test_quality_steps_end_to_end(make_spec, uploads, run):
    documents = [
        {"id": 1, "text": PROSE + "\nPlease enable JavaScript to read the comments."},
        {"id": 2, "text": MENU},
        {"id": 3, "text": SPAM + "\n" + PROSE},
        {"id": 4, "text": None},
        {"id": 5, "text": PROSE + "\nUse the {name} field to set the title."},
        {"id": 6, "text": PROSE.replace(".\n", "\n").rstrip(".")},
    ]
    uploads("docs.jsonl", "".join(json.dumps(d) + "\n" for d in documents).encode())
    version = run(make_spec(schema=SCHEMA, steps=STEPS))

    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == 6
    assert accounting["rows_written"] == 1
    assert accounting["quarantined_by_stage"] == {"drop_null": 1}
    assert accounting["dropped_by_step"] == {"gopher_quality": 1, "gopher_repetition": 1,
                                             "fineweb_quality": 1, "c4_quality": 1}
    table = rows_of(version.path).to_pydict()
    assert table["id"] == [1]
    assert table["text"] == [PROSE]  # C4 removed the JavaScript line
    assert table["c4_sentences"] == [5.0]
    assert table["gq_stop_words"][0] >= 2 and table["gq_word_count"][0] > 50
    menu = next(r for r in read_quarantine(version) if r["_stage"] == "gopher_quality")
    assert menu["_fate"] == "dropped" and json.loads(menu["_record"])["id"] == 2
    assert "gopher_quality: word_count 7 < 50" in menu["_reasons"]


def test_scores_follow_a_redaction_before_them(make_spec, uploads, run):
    """The quality steps of a chain share one tokenization while the text is unchanged;
    pii's redaction between them makes a new text, which the later steps score."""
    from assay.transforms.quality.gopher import GopherQuality
    from tests.transforms.test_quality import texts

    mail = PROSE + "\nWrite to jane.doe@example.com or to ops@example.org about it."
    documents = [{"id": 1, "text": mail}, {"id": 2, "text": PROSE}]
    uploads("docs.jsonl", "".join(json.dumps(d) + "\n" for d in documents).encode())
    steps = [{"op": "gopher_quality", "column": "text", "score_prefix": "before_"},
             {"op": "gopher_repetition", "column": "text"},
             {"op": "pii", "columns": ["text"], "kinds": ["email"]},
             {"op": "gopher_quality", "column": "text", "score_prefix": "after_",
              "name": "gopher_again"}]
    table = rows_of(run(make_spec(schema=SCHEMA, steps=steps)).path).to_pydict()
    assert table["id"] == [1, 2]
    assert "<EMAIL>" in table["text"][0]
    alone = GopherQuality(column="text", score_prefix="after_").apply(
        texts(*table["text"])).frame
    assert table["after_mean_word_length"] == alone["after_mean_word_length"].tolist()
    assert table["before_mean_word_length"][0] != table["after_mean_word_length"][0]
    assert table["before_mean_word_length"][1] == table["after_mean_word_length"][1]
