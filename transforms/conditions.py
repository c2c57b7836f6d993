"""Structured row conditions for filters (and any package that needs a row predicate).

A condition is data, never code: ``{column, op, value}``, or ``{all: [...]}``,
``{any: [...]}``, ``{not: ...}``. Evaluation is vectorised and null-safe: a comparison with
a null value is False (only ``is_null`` is True there), so ``{not: C}`` keeps such rows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from assay.transforms.frame import Column, Frame
from assay.transforms.masks import as_mask, present
from assay.transforms.params import compile_regex
from assay.transforms.timestamps import scalar_for

CompareOp = Literal[
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "not_in",
    "is_null",
    "not_null",
    "matches",
    "between",
]
_BINARY = {
    "eq": lambda v, x: v == x,
    "ne": lambda v, x: v != x,
    "lt": lambda v, x: v < x,
    "le": lambda v, x: v <= x,
    "gt": lambda v, x: v > x,
    "ge": lambda v, x: v >= x,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Compare(_Model):
    """``{column, op, value}``: ``column`` compared with ``value`` by ``op``. A comparison
    with a null value is false (only ``is_null`` holds there)."""

    column: str = Field(min_length=1, description="The column to test.",
                        examples=["country"])
    op: CompareOp = Field(description=(
        "`eq ne lt le gt ge` compare with `value`; `in`, `not_in` test membership of a "
        "list; `is_null`, `not_null` take no value; `matches` searches a regular expression "
        "anywhere (anchor it with `^...$`); `between` takes `[low, high]`, both included."),
        examples=["in"])
    value: Any = Field(None, description=(
        "What `op` compares with: one value, a list (`in`, `not_in`), `[low, high]` "
        "(`between`), a regular expression (`matches`), nothing (`is_null`, `not_null`)."),
        examples=[["US", "DE"]])

    @model_validator(mode="after")
    def _value_fits_op(self) -> Compare:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op {self.op} takes no value")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list):
                raise ValueError(f"op {self.op} needs a list value")
        elif self.op == "between":
            if not (isinstance(self.value, list) and len(self.value) == 2):
                raise ValueError("op between needs a value [low, high]")
        elif self.op == "matches":
            if not isinstance(self.value, str):
                raise ValueError("op matches needs a regular expression string")
            compile_regex(self.value)
        elif self.value is None or isinstance(self.value, list | dict):
            raise ValueError(f"op {self.op} needs a single value (use is_null for nulls)")
        return self

    def columns(self) -> set[str]:
        return {self.column}

    def evaluate(self, frame: Frame) -> Column:
        values = frame[self.column]
        if self.op == "is_null":
            return as_mask(values.isna())
        if self.op == "not_null":
            return present(values)
        if self.op == "matches":
            return as_mask(values.str.contains(self.value, regex=True)) & present(values)
        if self.op in ("in", "not_in"):
            found = as_mask(values.isin([scalar_for(values, v) for v in self.value]))
            return (found if self.op == "in" else ~found) & present(values)
        if self.op == "between":
            low, high = (scalar_for(values, v) for v in self.value)
            return as_mask((values >= low) & (values <= high)) & present(values)
        return as_mask(_BINARY[self.op](values, scalar_for(values, self.value))) & present(
            values
        )


class AllOf(_Model):
    """``{all: [COND, ...]}``: every condition holds."""

    all: list[Condition] = Field(min_length=1, description=(
        "Holds where every condition holds."), examples=[[
            {"column": "amount", "op": "ge", "value": 0},
            {"column": "country", "op": "not_null"}]])

    def columns(self) -> set[str]:
        return set().union(*(c.columns() for c in self.all))

    def evaluate(self, frame: Frame) -> Column:
        out = self.all[0].evaluate(frame)
        for condition in self.all[1:]:
            out = out & condition.evaluate(frame)
        return out


class AnyOf(_Model):
    """``{any: [COND, ...]}``: at least one condition holds."""

    any: list[Condition] = Field(min_length=1, description=(
        "Holds where at least one condition holds."), examples=[[
            {"column": "plan", "op": "eq", "value": "pro"},
            {"column": "amount", "op": "gt", "value": 1000}]])

    def columns(self) -> set[str]:
        return set().union(*(c.columns() for c in self.any))

    def evaluate(self, frame: Frame) -> Column:
        out = self.any[0].evaluate(frame)
        for condition in self.any[1:]:
            out = out | condition.evaluate(frame)
        return out


class Not(_Model):
    """``{not: COND}``: the condition does not hold."""

    not_: Condition = Field(alias="not", description=(
        "Holds where the condition does not (so rows where it compared a null)."),
        examples=[{"column": "user", "op": "matches", "value": "^test_"}])

    def columns(self) -> set[str]:
        return self.not_.columns()

    def evaluate(self, frame: Frame) -> Column:
        return ~self.not_.evaluate(frame)


def _kind(data: Any) -> str | None:
    """Which form a condition mapping takes, from its keys (for clear errors)."""
    if isinstance(data, BaseModel):
        return {Compare: "compare", AllOf: "all", AnyOf: "any", Not: "not"}[type(data)]
    if isinstance(data, dict):
        for key in ("all", "any", "not"):
            if key in data:
                return key
        if "not_" in data:
            return "not"
        return "compare"
    return None


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="a condition is {column, op, value}, {all: [...]}, "
        "{any: [...]} or {not: ...}",
    ),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


def evaluate(condition: Compare | AllOf | AnyOf | Not, frame: Frame) -> Column:
    """A plain bool column: True where ``condition`` holds for the row."""
    return condition.evaluate(frame)
