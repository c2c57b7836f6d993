"""The spec reference, generated from the spec's pydantic models: ``docs/spec.md`` (every key
with its type, default, meaning and an example) and ``docs/spec.schema.json`` (the JSON
Schema of a spec, which YAML editors use to complete and check keys).

The models are the single source: a key's description and example are its
``Field(description=..., examples=[...])``, a section's text is its model's docstring, and a
step's parameters are its registered model (``assay.transforms``). Regenerate with::

    python -m assay.flows.reference docs   # these two files and docs/cli.md

``tests/test_docs.py`` fails when a committed file differs from what this module renders.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, get_args

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from assay.pipelines.spec import (
    ClusterSpec,
    ColumnSpec,
    CsvOptions,
    GateSpec,
    IntakeSpec,
    PipelineSpec,
    ScheduleSpec,
    SchemaSpec,
    SinkSpec,
    SourceSpec,
    SplitSpec,
)
from assay.transforms.base import Step, registered_steps
from assay.transforms.conditions import AllOf, AnyOf, Compare, Not
from assay.transforms.params import BYTE_SIZE_PATTERN

SPEC_MD = "spec.md"
SCHEMA_JSON = "spec.schema.json"
REGENERATE = "python -m assay.flows.reference docs"

# (heading, model, how a key of it is written in full): the order of docs/spec.md. Steps
# and conditions have sections of their own below these.
SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("Top level", PipelineSpec, ""),
    ("source", SourceSpec, "source."),
    ("source.csv", CsvOptions, "source.csv."),
    ("schema", SchemaSpec, "schema."),
    ("schema.columns[]", ColumnSpec, "schema.columns[]."),
    ("gates[]", GateSpec, "gates[]."),
    ("sink", SinkSpec, "sink."),
    ("sink.split", SplitSpec, "sink.split."),
    ("cluster", ClusterSpec, "cluster."),
    ("schedule", ScheduleSpec, "schedule."),
    ("intake", IntakeSpec, "intake."),
]
STEPS_HEADING = "steps[]"
CONDITIONS_HEADING = "Conditions"
CONDITIONS: list[tuple[str, type[BaseModel]]] = [
    ("{column, op, value}", Compare), ("all", AllOf), ("any", AnyOf), ("not", Not)]
COMMON_STEP_KEYS = ("op", "name", "keep_removed")


# --- the JSON Schema --------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec as YAML writes it: what pydantic validates
    (``model_json_schema`` of ``PipelineSpec``), with each step's ``op`` required, so that
    ``steps`` is a list of objects told apart by ``op`` (an editor completes its values)."""
    schema = PipelineSpec.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    for step in registered_steps().values():
        definition = defs[step.__name__]
        definition["required"] = ["op", *definition.get("required", [])]
    models = [model for _, model, _ in SECTIONS] + list(registered_steps().values())
    for model in models:
        _factory_defaults(model, schema if model is PipelineSpec else defs[model.__name__])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "assay pipeline spec", **{k: v for k, v in schema.items() if k != "title"}}


def _factory_defaults(model: type[BaseModel], definition: dict[str, Any]) -> None:
    """Pydantic leaves out the defaults a factory makes (``csv.null_values: [""]``, the
    ``csv`` section's own); the schema states every default, so they are put in."""
    for name, field in model.model_fields.items():
        prop = definition["properties"].get(field.alias or name)
        if prop is not None and "default" not in prop and field.default_factory is not None:
            prop["default"] = to_jsonable_python(field.get_default(call_default_factory=True),
                                                 by_alias=True)


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- markdown helpers -------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but ``-`` and ``_`` dropped,
    spaces to ``-`` (a repeated heading gets ``-1``, ``-2``: callers number those)."""
    text = re.sub(r"[`*]", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _prose(text: str | None) -> str:
    """A docstring or description as one markdown paragraph per paragraph: RST's double
    backticks as code spans, ``docs/x.md`` as a link beside this page."""
    if not text:
        return ""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    joined = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    joined = joined.replace("``", "`")
    return re.sub(r"(?<![\w/])docs/([\w-]+\.md)", r"[\1](\1)", joined)


def _cell(text: str) -> str:
    """Text for a table cell: one line, pipes escaped (also inside code spans)."""
    return text.replace("\n\n", "<br><br>").replace("\n", " ").replace("|", "\\|")


def _flow(value: Any) -> str:
    """A value as YAML flow text (one line), as a spec would write it."""
    text = yaml.safe_dump({"k": value}, default_flow_style=True, width=10**6, sort_keys=False,
                          allow_unicode=True).strip()
    return text[len("{k: "):-1]


def _pair(key: str, value: Any) -> str:
    """``key: value`` in YAML flow text."""
    return _flow({key: value})[1:-1]


def _size(value: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


def _is_byte_size(schema: dict[str, Any]) -> bool:
    return any(part.get("pattern") == BYTE_SIZE_PATTERN for part in schema.get("anyOf", []))


class _Renderer:
    def __init__(self) -> None:
        self.schema = json_schema()
        self.defs = self.schema["$defs"]
        self.anchors: dict[str, str] = {}  # model name -> "#anchor"
        for heading, model, _ in SECTIONS:
            self.anchors[model.__name__] = "#" + slug(heading)
        for op, step in registered_steps().items():
            self.anchors[step.__name__] = "#" + slug(op)
        for heading, model in CONDITIONS:
            self.anchors[model.__name__] = "#" + slug(heading)
        for op, key, model in step_parts():
            self.anchors[model.__name__] = "#" + slug(f"{op}.{key}")

    # types, from the JSON Schema pydantic derived (it has resolved every alias)

    def type_of(self, schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in self._condition_names():
                return f"[condition](#{slug(CONDITIONS_HEADING)})"
            return f"[{self._label(name)}]({self.anchors[name]})"
        union = schema.get("anyOf") or schema.get("oneOf")
        if union:
            names = {part.get("$ref", "").rsplit("/", 1)[-1] for part in union}
            if names <= self._condition_names():
                return f"[condition](#{slug(CONDITIONS_HEADING)})"
            if names <= {step.__name__ for step in registered_steps().values()}:
                return f"[step](#{slug(STEPS_HEADING)})"
            parts = []
            for part in union:
                if part.get("pattern") == BYTE_SIZE_PATTERN:
                    parts.append("byte size")
                elif part.get("type") != "null" and not (
                        _is_byte_size(schema) and part.get("type") == "integer"):
                    parts.append(self.type_of(part))
            text = " or ".join(dict.fromkeys(parts))
            return f"{text} or null" if {"type": "null"} in union else text
        if "const" in schema:
            return f"`{schema['const']}`"
        if "enum" in schema:  # YAML's null stands for the word "null" (``with_null_word``)
            return " | ".join(f"`{value}`" for value in schema["enum"] if value is not None)
        kind = schema.get("type")
        if kind == "array":
            item = self.type_of(schema.get("items", {}))
            return f"list of {self._plural(item)}"
        if kind == "object":
            values = schema.get("additionalProperties", True)
            if values is True:
                return "mapping"
            return f"mapping to {self._plural(self.type_of(values))}"
        if kind in ("string", "integer", "number", "boolean", "null"):
            return kind + self._bounds(schema)
        return "any"

    @staticmethod
    def _bounds(schema: dict[str, Any]) -> str:
        marks = [(">", "exclusiveMinimum"), ("≥", "minimum"), ("<", "exclusiveMaximum"),
                 ("≤", "maximum")]
        found = [f"{sign} {schema[key]}" for sign, key in marks if key in schema]
        return f" ({', '.join(found)})" if found else ""

    @staticmethod
    def _plural(text: str) -> str:
        for word in ("string", "integer", "number", "boolean", "mapping"):
            if text.startswith(word):
                return word + "s" + text[len(word):]
        return text

    @staticmethod
    def _condition_names() -> set[str]:
        return {model.__name__ for _, model in CONDITIONS}

    @staticmethod
    def _label(name: str) -> str:
        for heading, model, _ in SECTIONS:
            if model.__name__ == name:
                return heading
        return name

    # tables

    def fields_table(self, model: type[BaseModel], *, skip: tuple[str, ...] = (),
                     only: tuple[str, ...] | None = None, first: list[str] = ()) -> list[str]:
        """One row per key of ``model``: key, type, default, description, examples."""
        schema = self.schema if model is PipelineSpec else self.defs[model.__name__]
        rows = ["| key | type | default | description | example |",
                "| --- | --- | --- | --- | --- |", *first]
        for name, field in model.model_fields.items():
            key = field.alias or name
            if field.exclude or key in skip or (only is not None and key not in only):
                continue
            prop = schema["properties"][key]
            examples = "<br>".join(f"`{_pair(key, e)}`" for e in field.examples or [])
            rows.append(self._row(f"`{key}`", self.type_of(prop), self.default_of(field, prop),
                                  _prose(field.description), examples))
        return rows

    @staticmethod
    def _row(*cells: str) -> str:
        return "| " + " | ".join(_cell(text) for text in cells) + " |"

    def default_of(self, field: FieldInfo, prop: dict[str, Any]) -> str:
        if field.is_required():
            return "required"
        value = field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            return "its defaults"
        if isinstance(value, int) and not isinstance(value, bool) and _is_byte_size(prop):
            return f"`{_size(value)}`"
        return f"`{_flow(value)}`"

    # the page

    def render(self) -> str:
        steps = registered_steps()
        out = [HEADER, "", "**Contents:** " + ", ".join(
            f"[{heading}](#{slug(heading)})" for heading in
            [h for h, _, _ in SECTIONS[:5]] + [STEPS_HEADING, CONDITIONS_HEADING]
            + [h for h, _, _ in SECTIONS[5:]]) + ".", ""]
        for index, (heading, model, _) in enumerate(SECTIONS):
            if index == 5:
                out += self.steps_section(steps) + self.conditions_section()
            out += [f"## {_heading(heading)}", "", _prose(model.__doc__), "",
                    *self.fields_table(model), ""]
        return "\n".join(out).rstrip() + "\n"

    def steps_section(self, steps: dict[str, type[Step]]) -> list[str]:
        out = [f"## {_heading(STEPS_HEADING)}", "", STEPS_INTRO, "",
               "Every step takes these keys besides its own:", "",
               *self.fields_table(next(iter(steps.values())), only=COMMON_STEP_KEYS[1:],
                                  first=[self._row("`op`", "string", "required", (
                                      "Which step: one of the ops below."),
                                      "`op: normalize`")]),
               "", "| op | what it does |", "| --- | --- |"]
        for op, step in steps.items():
            first = _prose(step.__doc__).split("\n\n")[0]
            out.append(f"| [`{op}`](#{slug(op)}) | {_cell(first)} |")
        out.append("")
        for op, step in steps.items():
            extra = step.model_config.get("json_schema_extra") or {}
            example = extra.get("examples", [None])[0] or {
                "op": op, **{k: f.examples[0] for k, f in step.model_fields.items()
                             if k not in COMMON_STEP_KEYS and f.is_required()}}
            out += [f"### `{op}`", "", _prose(step.__doc__), "", "```yaml",
                    f"- {_flow(example)}", "```", ""]
            own = self.fields_table(step, skip=COMMON_STEP_KEYS)
            out += (own if len(own) > 2 else ["No parameters of its own."]) + [""]
            for _, key, model in (part for part in step_parts() if part[0] == op):
                out += [f"#### `{op}.{key}`", "", _prose(model.__doc__), "",
                        *self.fields_table(model), ""]
        return out

    def conditions_section(self) -> list[str]:
        out = [f"## {CONDITIONS_HEADING}", "", CONDITIONS_INTRO, ""]
        for heading, model in CONDITIONS:
            out += [f"### `{heading}`", "", _prose(model.__doc__), "",
                    *self.fields_table(model), ""]
        return out


def step_parts() -> list[tuple[str, str, type[BaseModel]]]:
    """(op, key, model) of the models that steps' keys hold and that have no section of
    their own (a decontamination's evaluation sets): each is documented below its step."""
    sectioned = {model for _, model, _ in SECTIONS} | {model for _, model in CONDITIONS}
    return [(op, key, model) for op, step in registered_steps().items()
            for key, field in step.model_fields.items()
            for model in _models_in(field.annotation) if model not in sectioned]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``list[EvalSet] | None``: EvalSet)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _heading(text: str) -> str:
    return text if " " in text else f"`{text}`"


HEADER = f"""# Pipeline spec reference

<!-- Generated from the pydantic models by `{REGENERATE}`: do not edit by hand.
     tests/test_docs.py fails when this file is stale. -->

A pipeline is one YAML file, checked by pydantic when it loads: an unknown key, a value of
the wrong type, a step naming a column that will not exist or one of a type it cannot take
(`normalize` on an `int64` column) fails the spec with one line naming its line and key
(`pipeline.yaml: line 14: steps[2].normalize.columns: Field required`). `assay validate
SPEC` checks a spec without running it and shows the columns and types the steps leave.
Relative paths resolve against the spec file's folder, so a spec runs from any working
directory. Nothing in a spec is ever passed to `eval`. [spec-guide.md](spec-guide.md) walks
through a whole spec; this page lists every key with its type, default, meaning and an
example.

A *byte size* is an integer or a string with a unit: `64MiB`, `1 GB`, `1.5GiB`.

**In an editor.** [spec.schema.json](spec.schema.json) is the JSON Schema of a spec. With
the YAML language server (VS Code's YAML extension, and editors that use it), a first line

```yaml
# yaml-language-server: $schema=../docs/spec.schema.json
```

(a path relative to the spec, or a URL) completes keys and step names and shows these
descriptions. Or map it to your specs once, in VS Code's settings:
`"yaml.schemas": {{"./docs/spec.schema.json": ["**/pipeline.yaml", "pipelines/*.yaml"]}}`.
The schema cannot state every check (a gate's `after` naming a step, the
columns a step needs, an expression's syntax, a suite's expectations): `assay validate` has
the last word."""

STEPS_INTRO = """The transforms, in order. Each is a mapping with `op` (which step) and its
parameters, e.g. `- {op: normalize, columns: [user], case: lower}`. Steps see only live
rows; a row a step removes leaves with the step's name and a reason, counted as dropped by
it or, with `action: quarantine`, kept in the quarantine. Every step runs per partition,
fused with its neighbours, except `dedup`, which adds a shuffle."""

CONDITIONS_INTRO = """The `keep` or `drop` of a [`filter`](#filter) step. A condition is data,
never code: a comparison `{column, op, value}`, or `{all: [...]}`, `{any: [...]}`,
`{not: ...}` around other conditions, nested as deep as needed:

```yaml
keep: {all: [{column: amount, op: between, value: [0, 1000000]},
             {not: {column: user, op: matches, value: "^test_"}}]}
```"""


def spec_markdown() -> str:
    """The text of docs/spec.md."""
    return _Renderer().render()


def rendered() -> dict[str, str]:
    """File name (in the docs folder) -> its generated text."""
    return {SPEC_MD: spec_markdown(), SCHEMA_JSON: schema_text()}

