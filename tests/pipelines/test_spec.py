"""Spec errors name the key and the problem in one line; paths resolve against the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import load_spec, parse_spec

BASE = {
    "name": "ok",
    "source": {"paths": ["uploads/*.csv"]},
    "schema": {"columns": [{"name": "id", "type": "int64"}]},
    "sink": {"path": "out"},
}


def _error(data: dict, tmp_path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "pipeline.yaml", tmp_path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"name": "bad name!"}, ["pipeline.yaml: name:"]),
        ({"sink": {}}, ["sink.path: Field required"]),
        ({"sink": {"path": "o", "shard_size": 3}}, ["sink.shard_size: Extra inputs"]),
        ({"sink": {"path": "o", "target_shard_bytes": "lots"}}, ["sink.target_shard_bytes",
                                                                 "not a byte size"]),
        ({"schema": {"columns": [{"name": "id", "type": "integer"}]}},
         ["schema.columns[0].type"]),
        ({"schema": {"columns": [{"name": "a"}, {"name": "a"}]}},
         ["schema.columns", "declared twice"]),
        ({"source": {"paths": []}}, ["source.paths"]),
        ({"sink": {"path": "o", "split": {"key": ["id"], "fractions": {"train": 0.5}}}},
         ["sink.split.fractions", "sum to 1"]),
        ({"steps": [{"op": "no_such_step"}]}, ["steps[0]", "no_such_step"]),
        ({"gates": [{"name": "g", "expectations": [], "after": "nope"}]},
         ["gates[0].after", "nope"]),
        ({"gates": [{"name": "g"}]}, ["gates[0]", "exactly one of"]),
        ({"steps": [{"op": "normalize", "columns": ["nope"]}]},
         ["steps[0]: normalize: no such column(s) ['nope']"]),
        ({"steps": [{"op": "rename", "columns": {"id": "key"}},
                    {"op": "normalize", "columns": ["id"]}]}, ["steps[1]", "'id'"]),
        ({"steps": [{"op": "normalize"}]}, ["steps[0].normalize.columns: Field required"]),
    ],
)
def test_error_names_the_key(tmp_path, change, fragments):
    message = _error({**BASE, **change}, tmp_path)
    for fragment in fragments:
        assert fragment in message
    assert all(line.startswith("pipeline.yaml") for line in message.splitlines())


@pytest.mark.parametrize(("section", "yaml_text", "read"), [
    ("steps", "- {op: cast, columns: {id: int64}, on_error: null}",
     lambda spec: spec.steps[0].on_error),
    ("steps", "- {op: parse_timestamp, column: id, on_error: null}",
     lambda spec: spec.steps[0].on_error),
    ("steps", "- {op: map_values, column: name, aliases: {a: [b]}, unmapped: null}",
     lambda spec: spec.steps[0].unmapped),
    ("schema", "{columns: [{name: id}, {name: name}], missing_columns: null}",
     lambda spec: spec.schema_.missing_columns),
])
def test_yaml_null_is_the_choice_null(tmp_path, section, yaml_text, read):
    """``on_error: null`` unquoted is YAML's null; it means the choice the docs call null."""
    columns = [{"name": "id", "type": "int64"}, {"name": "name"}]
    spec = {**BASE, "schema": {"columns": columns}, section: None}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec).replace(f"{section}: null", f"{section}:\n  "
                                                 + yaml_text.replace("\n", "\n  ")))
    assert read(load_spec(path)) == "null"
    refused = yaml_text.replace("null}", "nil}")
    path.write_text(path.read_text().replace(yaml_text, refused))
    with pytest.raises(SpecError, match=r"pipeline.yaml: .*(on_error|unmapped|missing_columns)"):
        load_spec(path)


def test_a_bad_value_in_a_spec_file_names_its_line_and_key(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("""\
name: ok
source:
  paths: [uploads/*.csv]
schema:
  columns:
    - {name: id, type: int64}
    - {name: country, type: integer}
steps:
  - {op: normalize, columns: [country], case: upper}
  - op: filter
    keep: {column: country, op: in, value: [US]}
    action: bin
sink: {}
""")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).splitlines() == [
        f"{path}: line 7: schema.columns[1].type: Input should be 'string', 'int64', 'int32', "
        "'float64', 'float32', 'bool' or 'timestamp'",
        f"{path}: line 12: steps[1].filter.action: Input should be 'drop' or 'quarantine'",
        f"{path}: line 13: sink.path: Field required",
    ]


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsource: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml: line \d+ invalid YAML"):
        load_spec(path)


def test_paths_resolve_against_the_spec_folder(tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "p.yaml").write_text(
        "name: p\nsource: {paths: [data/*.csv]}\nschema: {columns: [{name: id}]}\n"
        "sink: {path: ../out}\n")
    monkeypatch.chdir("/")
    spec = load_spec(folder / "p.yaml")
    assert spec.resolve(spec.source.paths[0]) == str(folder / "data" / "*.csv")
    assert spec.resolve(spec.sink.path) == str(tmp_path / "out")
    assert spec.resolve("s3://bucket/x") == "s3://bucket/x"


def test_spec_hash_is_stable(tmp_path):
    one = parse_spec(dict(BASE), "a.yaml", tmp_path)
    two = parse_spec(dict(BASE), "b.yaml", tmp_path)
    assert one.sha256() == two.sha256()


def test_columns_after_each_step_with_their_types(tmp_path):
    from assay.pipelines.spec_columns import columns_after_steps

    spec = parse_spec({**BASE, "schema": {"columns": [{"name": "id", "type": "int64"},
                                                      {"name": "ts"}, {"name": "n"}]},
                       "steps": [{"op": "parse_timestamp", "column": "ts"},
                                 {"op": "cast", "columns": {"n": "float32"}},
                                 {"op": "dedup", "scope": "run"},
                                 {"op": "rename", "columns": {"n": "score"}}]},
                      "pipeline.yaml", tmp_path)

    assert columns_after_steps(spec, after="parse_timestamp") == [
        ("id", "int64"), ("ts", "timestamp"), ("n", "string")]
    assert columns_after_steps(spec) == [("id", "int64"), ("ts", "timestamp"),
                                         ("score", "float32")]


def test_a_step_on_a_column_of_the_wrong_type_fails_the_spec_naming_it(tmp_path):
    """It failed the run as an internal error ('this is a bug in assay') before."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({**BASE, "steps": [
        {"op": "normalize", "columns": ["id"], "case": "upper"}]}, sort_keys=False))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == (f"{path}: line 12: steps[0]: normalize: column id is Int64, "
                                 "not a string column")
