"""Parameter types and checks shared by several steps, so each step's model states only
what is particular to it and every spec error reads the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, get_args

from dask.utils import parse_bytes
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from assay.transforms import frame as fr
from assay.transforms.base import Fate
from assay.transforms.frame import Column, Frame

Action = Literal["drop", "quarantine"]
ColumnType = Literal["string", "int64", "int32", "float64", "float32", "bool", "timestamp"]


def _unique(names: list[str]) -> list[str]:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"columns listed more than once: {duplicates}")
    return names


def _bytes(value: Any) -> int:
    """Accept 134217728, "128MiB" or "128 MB"."""
    if isinstance(value, str):
        try:
            return parse_bytes(value)
        except ValueError as exc:
            raise ValueError(f"not a byte size: {value!r} (try e.g. '64MiB')") from exc
    return value


# A spec writes a byte size as a number or a string with a unit; the JSON Schema says so
# (tools such as YAML editors read it), and the pattern is how it tells one from a name.
BYTE_SIZE_PATTERN = r"^\s*[0-9]*\.?[0-9]+([eE][0-9]+)?\s*[A-Za-z]*\s*$"
ByteSize = Annotated[int, BeforeValidator(_bytes), Field(gt=0), WithJsonSchema({"anyOf": [
    {"type": "integer", "exclusiveMinimum": 0},
    {"type": "string", "pattern": BYTE_SIZE_PATTERN}]})]
ColumnName = Annotated[str, Field(min_length=1)]
ColumnList = Annotated[list[ColumnName], Field(min_length=1), AfterValidator(_unique)]


def _null_word(value: Any) -> Any:
    """YAML reads an unquoted ``null`` as no value; the choice it names is the word."""
    return "null" if value is None else value


def with_null_word(choices: Any) -> Any:
    """A ``Literal`` of words that include ``"null"``, accepting YAML's ``null`` (unquoted)
    for that word, as a person writes it (``on_error: null``); the JSON Schema says both."""
    return Annotated[choices, BeforeValidator(_null_word),
                     WithJsonSchema({"enum": [*get_args(choices), None]})]


# The choices that name null, as step and spec keys take them
KeepOrNull = with_null_word(Literal["keep", "null"])
RejectOrNull = with_null_word(Literal["reject", "null"])
QuarantineOrNull = with_null_word(Literal["quarantine", "null"])
QuarantineNullOrDrop = with_null_word(Literal["quarantine", "null", "drop"])


def fate_of(action: Action) -> Fate:
    """The accounting fate of rows removed with ``action``."""
    return "quarantined" if action == "quarantine" else "dropped"


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile at spec load, so a bad pattern fails the spec and not the run."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def require_columns(available: Iterable[str], needed: Iterable[str], label: str) -> None:
    """Raise a ValueError naming the columns ``label`` needs that are not there."""
    present = set(available)
    missing = [name for name in needed if name not in present]
    if missing:
        raise ValueError(f"{label}: no such column(s) {missing}")


def string_column(frame: Frame, column: str, label: str) -> Column:
    """The column, checked to hold strings (a string step makes no sense on numbers)."""
    require_columns(frame.columns, [column], label)
    values = frame[column]
    if not fr.is_string_like(values):
        raise ValueError(f"{label}: column {column} is {values.dtype}, not a string column")
    return values


def add_columns(columns: list[str], new: Iterable[str]) -> list[str]:
    """``columns`` followed by those of ``new`` not already present (assign's order)."""
    return columns + [name for name in new if name not in columns]
