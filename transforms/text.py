"""String-cleaning steps: ``normalize`` (whitespace, case, Unicode form), ``regex_replace``,
``regex_extract`` and ``map_values`` (aliases to canonical values)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.frame import Column, Frame
from assay.transforms.params import (
    ColumnList,
    ColumnName,
    KeepOrNull,
    add_columns,
    compile_regex,
    require_columns,
    string_column,
)


@register
class Normalize(PartitionStep):
    """Tidy strings: Unicode normal form, then whitespace collapsing, stripping, case."""

    op: Literal["normalize"] = "normalize"
    columns: ColumnList = Field(description="String columns to tidy.",
                                examples=[["user", "country"]])
    strip: bool = Field(True, description="Remove leading and trailing whitespace.",
                        examples=[False])
    case: Literal["lower", "upper", "title"] | None = Field(None, description=(
        "Change the case (null: leave it)."), examples=["lower"])
    unicode: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = Field(None, description=(
        "Bring strings to this Unicode normal form first (null: leave them)."),
        examples=["NFKC"])
    collapse_whitespace: bool = Field(False, description=(
        "Replace each run of whitespace by one space."), examples=[True])

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, self.columns, self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        return StepResult(frame.assign(**{c: self._tidy(frame, c) for c in self.columns}))

    def _tidy(self, frame: Frame, column: str) -> Column:
        values = string_column(frame, column, self.label)
        if self.unicode:
            values = fr.normalize_unicode(values, self.unicode)
        if self.collapse_whitespace:
            values = values.str.replace(r"\s+", " ", regex=True)
        if self.strip:
            values = values.str.strip()
        if self.case:
            values = getattr(values.str, self.case)()
        return values


@register
class RegexReplace(PartitionStep):
    """Replace every match of ``pattern`` by ``replacement`` (back-references \\1 allowed),
    in place or into a new column."""

    op: Literal["regex_replace"] = "regex_replace"
    column: ColumnName = Field(description="A string column.", examples=["phone"])
    pattern: str = Field(min_length=1, description=(
        "A Python regular expression, checked when the spec loads."), examples=[r"[^0-9+]"])
    replacement: str = Field(description=(
        "What each match becomes; `\\1` refers to a group."), examples=["", r"\1-\2"])
    into: ColumnName | None = Field(None, description=(
        "Write the result to this column (null: replace `column`)."),
        examples=["phone_clean"])

    @model_validator(mode="after")
    def _valid_pattern(self) -> RegexReplace:
        compiled = compile_regex(self.pattern)
        try:  # sub() parses the template (group references) before it scans
            compiled.sub(self.replacement, "")
        except (re.error, IndexError) as exc:
            raise ValueError(f"invalid replacement {self.replacement!r}: {exc}") from None
        return self

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return add_columns(columns, [self.into or self.column])

    def apply(self, frame: Frame) -> StepResult:
        values = string_column(frame, self.column, self.label)
        replaced = fr.regex_replace(values, self.pattern, self.replacement)
        return StepResult(frame.assign(**{self.into or self.column: replaced}))


@register
class RegexExtract(PartitionStep):
    """Copy the groups of the first match into new string columns: one per named group,
    or ``into`` for a pattern with a single unnamed group. No match gives nulls."""

    op: Literal["regex_extract"] = "regex_extract"
    column: ColumnName = Field(description="A string column.", examples=["email"])
    pattern: str = Field(min_length=1, description=(
        "A Python regular expression with named groups (one column each), or with one "
        "unnamed group and `into`."), examples=[r"^(?P<local>[^@]+)@(?P<domain>.+)$"])
    into: ColumnName | None = Field(None, description=(
        "The column for a pattern's single unnamed group."), examples=["domain"])

    @model_validator(mode="after")
    def _groups_have_names(self) -> RegexExtract:
        compiled = compile_regex(self.pattern)
        named = len(compiled.groupindex)
        if named and (named != compiled.groups or self.into):
            raise ValueError(
                "name every group (?P<name>...) and leave out 'into', or use "
                "one unnamed group with 'into'"
            )
        if not named and (compiled.groups != 1 or not self.into):
            raise ValueError(
                "the pattern needs named groups (?P<name>...), or exactly one group and 'into'"
            )
        return self

    @property
    def targets(self) -> list[str]:
        """The new columns, in group order."""
        groups = compile_regex(self.pattern).groupindex
        return sorted(groups, key=groups.get) if groups else [self.into]

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return add_columns(columns, self.targets)

    def apply(self, frame: Frame) -> StepResult:
        values = string_column(frame, self.column, self.label)
        found = values.str.extract(self.pattern, expand=True)
        found.columns = self.targets  # by position: backends name groups differently
        return StepResult(frame.assign(**{c: fr.as_string(found[c]) for c in self.targets}))


@register
class MapValues(PartitionStep):
    """Replace aliases by their canonical value, e.g. ``{US: [usa, "united states"]}``.
    Unmapped values are kept or become null (``unmapped``)."""

    op: Literal["map_values"] = "map_values"
    column: ColumnName = Field(description="A string column.", examples=["plan"])
    aliases: dict[str, list[str]] = Field(min_length=1, description=(
        "`{canonical: [alias, ...]}`; no alias may belong to two canonical values."),
        examples=[{"pro": ["Pro", "PRO", "professional"], "free": ["trial"]}])
    case_insensitive: bool = Field(False, description=(
        "Match aliases whatever their case."), examples=[True])
    unmapped: KeepOrNull = Field("keep", description=(
        "Values that are neither an alias nor a canonical value are kept, or become "
        "`null`."), examples=[None])

    @model_validator(mode="after")
    def _unambiguous(self) -> MapValues:
        self.lookup  # noqa: B018  (raises on an alias claimed by two canonical values)
        return self

    @property
    def lookup(self) -> dict[str, str]:
        """Each alias (and each canonical value) to its canonical value."""
        table: dict[str, str] = {}
        for canonical, aliases in self.aliases.items():
            for alias in [canonical, *aliases]:
                key = alias.lower() if self.case_insensitive else alias
                if table.setdefault(key, canonical) != canonical:
                    raise ValueError(f"{alias!r} maps to both {table[key]!r} and {canonical!r}")
        return table

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return columns

    def apply(self, frame: Frame) -> StepResult:
        values = string_column(frame, self.column, self.label)
        lookup = self.lookup
        keys = values.str.lower() if self.case_insensitive else values
        known = keys.isin(list(lookup))
        mapped = keys.replace(lookup).where(known, values if self.unmapped == "keep" else None)
        return StepResult(frame.assign(**{self.column: fr.as_string(mapped)}))
