"""Expectation kwargs as pydantic models: the keys every expectation accepts, the groups
several share (a column, conditions, bounds), and the one place where a ValidationError
becomes a one-line ConfigError that names each bad key.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from assay.validation.expectations.fields import (
    ColumnList,
    ColumnName,
    Flag,
    Mostly,
    Number,
    RowMode,
    Unsupported,
)

P = TypeVar("P", bound="Params")
B = TypeVar("B")


class ConfigError(ValueError):
    """A kwarg is unknown, missing or invalid; the text names the key."""


class Params(BaseModel):
    """Keys every expectation accepts: GE uses them for reporting, or they are ours to ignore.
    Any other key is refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    result_format: Any = Field(None, description="GE's result format; ignored")
    catch_exceptions: Any = Field(None, description="ignored: errors are always caught")
    batch_id: Any = Field(None, description="ignored")


class Conditional(Params):
    """GE's condition keys, accepted on column and multicolumn expectations."""

    row_condition: Unsupported = None
    condition_parser: Any = Field(None, description="ignored without a row_condition")


class ColumnParams(Conditional):
    column: ColumnName = Field(description="the column evaluated")


class ColumnMapParams(ColumnParams):
    mostly: Mostly = 1.0


def ordered(low: Any, high: Any, names: tuple[str, str] = ("min_value", "max_value")) -> None:
    """Raise ValueError unless ``low <= high`` (either may be None: an open bound)."""
    if low is None or high is None:
        return
    try:
        reversed_ = low > high
    except TypeError:
        raise ValueError(f"{names[0]} and {names[1]} are of different types") from None
    if reversed_:
        raise ValueError(f"{names[0]} ({low!r}) must not exceed {names[1]} ({high!r})")


class Bounds(Params, Generic[B]):
    """Inclusive bounds of a value or metric; GE refuses a low bound above the high one."""

    min_value: B | None = Field(None, description="lower bound; null for none")
    max_value: B | None = Field(None, description="upper bound; null for none")

    @model_validator(mode="after")
    def _ordered(self) -> Bounds[B]:
        ordered(self.min_value, self.max_value)
        return self


class StrictBounds(Bounds[B], Generic[B]):
    strict_min: Flag = Field(False, description="the lower bound itself fails")
    strict_max: Flag = Field(False, description="the upper bound itself fails")


class ColumnMetricBounds(ColumnParams, StrictBounds[Number]):
    """Bounds of a column metric (min, mean, a proportion)."""


class MulticolumnParams(Conditional):
    column_list: ColumnList = Field(description="the columns of each record")
    mostly: Mostly = 1.0
    # GE 1.24's default, although its docstring says "never"
    ignore_row_if: RowMode = Field("all_values_are_missing", description="rows skipped")


def parse(model: type[P], kwargs: dict[str, Any]) -> P:
    """``kwargs`` validated by ``model``; a ConfigError naming each bad key otherwise."""
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        raise ConfigError(explain(exc)) from None


def explain(exc: ValidationError) -> str:
    """One line for all errors, unknown keys first (a typo explains the errors after it)."""
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    return "; ".join(_line(error) for error in errors)


_REASONS = {  # pydantic's error types in the words of the rest of the suite errors
    "bool_type": "expected true or false, got {kind}",
    "string_type": "expected a string, got {kind}",
    "string_too_short": "expected a non-empty string",
    "list_type": "expected a list, got {kind}",
    "tuple_type": "expected a list, got {kind}",
    "model_type": "expected an object, got {kind}",
    "literal_error": "expected one of {options}, got {input!r}",
    "none_required": "is not supported by the native evaluator",
}


def _line(error: ErrorDetails) -> str:
    key = _path(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r}"
    if error["type"] == "missing":
        return f"missing required key {key!r}"
    reason = _reason(error)
    return f"{key}: {reason}" if key else reason


def _reason(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        return str(ctx["error"])
    template = _REASONS.get(error["type"])
    if template is None:
        return error["msg"]
    given = error["input"]
    options = str(ctx.get("expected", "")).replace("'", "")
    return template.format(kind=type(given).__name__, input=given, options=options)


def _path(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as a key path, e.g. ``quantile_ranges.quantiles[2]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
