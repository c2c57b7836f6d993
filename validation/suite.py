"""Loading a gate's GE 1.x suite (a JSON file or inline configs) into native expectations.

Everything a suite can get wrong is caught here, at spec load, with one line that names the
expectation and the key, so a bad suite fails the spec and never a run.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from assay.validation.expectations import REGISTRY, ConfigError, Expectation

# item keys GE writes besides type and kwargs; kept for reporting, never evaluated
_ITEM_KEYS = {"type", "expectation_type", "kwargs", "meta", "id", "severity", "notes"}
_ITEM_KEYS |= {"description", "rendered_content", "windows"}


class SuiteError(Exception):
    """A suite cannot be used; one line per problem, naming the file or the expectation and
    its key."""


class GateLike(Protocol):
    name: str
    suite: str | None
    expectations: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Suite:
    name: str
    expectations: tuple[Expectation, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def load_gate_suite(gate: GateLike, resolve: Callable[[str], Any]) -> Suite:
    """The gate's suite, from its file (``resolve`` makes the path absolute) or inline list."""
    if gate.suite is None:
        return parse_suite(gate.expectations or [], name=gate.name)
    path = resolve(gate.suite)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not UTF-8 text: {exc.reason}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"{path}: not a GE suite (a JSON object with an 'expectations' list)")
    try:
        return parse_suite(data["expectations"], str(data.get("name") or gate.name), data)
    except SuiteError as exc:
        raise SuiteError("\n".join(f"{path}: {line}" for line in str(exc).splitlines())) \
            from None


def parse_suite(items: list[Any], name: str, document: dict[str, Any] | None = None) -> Suite:
    """Native expectations from GE expectation configs (GE 0.x ``expectation_type`` too).
    Every expectation is checked: the SuiteError has one line per one refused."""
    expectations, problems = [], []
    for i, item in enumerate(items):
        try:
            expectations.append(parse_expectation(i, item))
        except SuiteError as exc:
            problems.append(str(exc))
    if problems:
        raise SuiteError("\n".join(problems))
    meta = dict((document or {}).get("meta") or {})
    return Suite(name=name, expectations=tuple(expectations), meta=meta)


def parse_expectation(index: int, item: Any) -> Expectation:
    where = f"expectations[{index}]"
    if not isinstance(item, dict):
        raise SuiteError(f"{where}: expected an object, got {type(item).__name__}")
    kind = item.get("type", item.get("expectation_type"))
    if not isinstance(kind, str):
        raise SuiteError(f"{where}: missing key 'type'")
    where = f"{where} ({kind})"
    for key in item:
        if key not in _ITEM_KEYS:
            raise SuiteError(f"{where}: unknown key {key!r}")
    cls = REGISTRY.get(kind)
    if cls is None:
        close = difflib.get_close_matches(str(kind), REGISTRY, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else "see docs/gates.md"
        raise SuiteError(
            f"expectations[{index}]: expectation type {kind!r} is not supported ({hint})"
        )
    kwargs, meta = item.get("kwargs", {}), item.get("meta") or {}
    if not isinstance(kwargs, dict) or not isinstance(meta, dict):
        raise SuiteError(f"{where}: 'kwargs' and 'meta' must be objects")
    try:
        return cls(kwargs, meta)
    except ConfigError as exc:
        raise SuiteError(f"{where}: {exc}") from None
