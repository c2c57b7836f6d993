"""The documentation stays true: generated pages are up to date, the spec's JSON Schema
accepts the real specs, every key is described, examples and links resolve, and the README
stays short with its Quickstart intact."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from assay.flows import reference
from assay.pipelines import spec_reference
from assay.pipelines.errors import SpecError
from assay.pipelines.spec import parse_spec
from assay.transforms.base import registered_steps

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SAMPLE_SPECS = sorted(ROOT.glob("data_samples/*/pipeline.yaml"))
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(ROOT.glob("benchmarks/*.md"))]


# --- generated pages ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(reference.rendered()))
def test_generated_page_is_up_to_date(name: str) -> None:
    expected = reference.rendered()[name]
    path = DOCS / name
    committed = path.read_text(encoding="utf-8") if path.exists() else None
    assert committed == expected, (
        f"docs/{name} is stale: run `{spec_reference.REGENERATE}` and commit the result")


# --- the JSON Schema ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((DOCS / spec_reference.SCHEMA_JSON).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_schema_accepts_the_sample_specs(validator, path: Path) -> None:
    assert SAMPLE_SPECS, "no sample specs found"
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors


def test_schema_tells_steps_apart_by_op(validator) -> None:
    spec = yaml.safe_load(SAMPLE_SPECS[0].read_text())
    steps = spec["steps"]
    for step in ({"op": "no_such_step"}, {"op": "normalize"}, {"columns": ["user"]},
                 {"op": "normalize", "columns": ["user"], "cases": "lower"}):
        assert not validator.is_valid({**spec, "steps": [*steps, step]}), step
    items = validator.schema["properties"]["steps"]["items"]
    assert set(items["discriminator"]["mapping"]) == set(registered_steps())


def test_schema_takes_byte_sizes_as_yaml_writes_them(validator) -> None:
    spec = yaml.safe_load(SAMPLE_SPECS[0].read_text())
    for size in ("64MiB", "1 GB", 1048576):
        assert validator.is_valid({**spec, "source": {**spec["source"], "block_size": size}})
    for size in ("lots", -1, 0):
        assert not validator.is_valid({**spec, "source": {**spec["source"], "block_size": size}})


# --- every key described, every example valid ---------------------------------------------


def _documented_models() -> list[type[BaseModel]]:
    models = [model for _, model, _ in spec_reference.SECTIONS]
    models += [model for _, model in spec_reference.CONDITIONS]
    models += [model for _, _, model in spec_reference.step_parts()]
    return models + list(registered_steps().values())


def _keys(model: type[BaseModel]):
    for name, field in model.model_fields.items():
        if field.exclude or name == "op":
            continue
        yield field.alias or name, field


@pytest.mark.parametrize("model", _documented_models(), ids=lambda m: m.__name__)
def test_every_key_has_a_description_and_an_example(model: type[BaseModel]) -> None:
    assert model.__doc__, f"{model.__name__} has no docstring (its section's text)"
    missing = [key for key, field in _keys(model) if not field.description or not field.examples]
    assert not missing, f"{model.__name__}: give {missing} Field(description=..., examples=[...])"


def test_every_nested_model_has_a_section() -> None:
    """A model reachable from the spec but missing from the reference would go undocumented."""
    documented = {model.__name__ for model in _documented_models()}
    reachable = set(spec_reference.json_schema()["$defs"])
    assert reachable <= documented, sorted(reachable - documented)


@pytest.mark.parametrize("model", _documented_models(), ids=lambda m: m.__name__)
def test_every_optional_key_states_its_default(model: type[BaseModel]) -> None:
    """In the JSON Schema (a factory's default too: ``csv.null_values``) and in spec.md."""
    schema = spec_reference.json_schema()
    definition = schema if model.__name__ == "PipelineSpec" else schema["$defs"][model.__name__]
    for key, field in _keys(model):
        if not field.is_required():
            assert "default" in definition["properties"][key], f"{model.__name__}.{key}"
    page = (DOCS / spec_reference.SPEC_MD).read_text()
    for row in ("| `nullable` | boolean | `true` | `true` (the default): nulls are allowed",
                "| `null_values` | list of strings | `['']` | Strings read as null. By default "
                "only the empty field",
                "| `nulls` | `keep` \\| `remove` | `keep` | `keep` (the default): rows with a "
                "null value stay",
                "| `max_quarantined_fraction` | number (≥ 0, ≤ 1) or null | `null` | Abort the run "
                "when the gate quarantines more than this fraction of the rows read. By default "
                "(null) there is no limit"):
        assert row in page


@pytest.mark.parametrize("model", _documented_models(), ids=lambda m: m.__name__)
def test_examples_satisfy_the_schema(model: type[BaseModel]) -> None:
    schema = spec_reference.json_schema()
    definition = schema if model.__name__ == "PipelineSpec" else schema["$defs"][model.__name__]
    for key, field in _keys(model):
        property_schema = {**definition["properties"][key], "$defs": schema["$defs"]}
        for example in field.examples or []:
            errors = list(jsonschema.Draft202012Validator(property_schema).iter_errors(example))
            assert not errors, f"{model.__name__}.{key} example {example!r}: {errors[0].message}"


@pytest.mark.parametrize("op", sorted(registered_steps()))
def test_step_examples_are_valid_steps(op: str) -> None:
    """The YAML line shown for each step in docs/spec.md loads as that step."""
    step = registered_steps()[op]
    extra = step.model_config.get("json_schema_extra") or {}
    example = (extra.get("examples") or [None])[0] or {
        "op": op, **{k: f.examples[0] for k, f in step.model_fields.items()
                     if f.is_required() and k != "op"}}
    step.model_validate(example)


# --- specs shown in the docs ---------------------------------------------------------------


def _yaml_specs() -> list[Any]:
    """Every fenced YAML block in the pages that is a whole spec (it starts with ``name:``)."""
    found = []
    for page in PAGES:
        name = page.relative_to(ROOT).as_posix()
        blocks = re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.M | re.S)
        found += [pytest.param(name, block, id=f"{name}:{i}")
                  for i, block in enumerate(blocks) if block.startswith("name:")]
    return found


@pytest.mark.parametrize(("page", "text"), _yaml_specs())
def test_specs_in_the_docs_are_valid(page: str, text: str, tmp_path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load(text)
    for gate in data.get("gates", []):  # an empty suite where a gate names a file
        if gate.get("suite"):
            suite = tmp_path / gate["suite"]
            suite.parent.mkdir(parents=True, exist_ok=True)
            suite.write_text(json.dumps({"name": "doc", "expectations": []}))
    try:
        parse_spec(data, page, tmp_path)
    except SpecError as exc:
        pytest.fail(f"a spec in {page} is invalid:\n{exc}")


def test_the_gates_page_lists_the_whole_catalogue() -> None:
    from assay.validation.expectations.registry import REGISTRY

    page = (DOCS / "gates.md").read_text()
    table = page.split("## The catalogue", 1)[1].split("\n## ", 1)[0]
    listed = {f"expect_{name}" for name in re.findall(r"`([a-z_]+)`", table)}
    assert set(REGISTRY) <= listed, sorted(set(REGISTRY) - listed)
    assert f"{len(REGISTRY)} expectations" in table


# --- links ----------------------------------------------------------------------------------


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base, n = spec_reference.slug(heading), 0
        while (anchor := base if n == 0 else f"{base}-{n}") in anchors:
            n += 1
        anchors.add(anchor)
    return anchors


def _links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


# --- the README ---------------------------------------------------------------------------


def test_readme_is_short_and_keeps_the_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 260, "README.md is meant to be read in ten minutes"
    quickstart = readme.split("## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    first_block = re.search(r"```bash\n(.*?)```", quickstart, re.S)
    assert first_block and first_block.group(1) == (
        "python3 .ci/bootstrap.py demo\npython3 .ci/bootstrap.py test\n")
