"""The supported slice of GE's catalogue: every expectation class registers its GE ``type``
here with ``@register``; ``catalogue`` imports every module that holds one."""

from __future__ import annotations

import inspect
from typing import TypeVar

from assay.validation.expectations.base import Expectation
from assay.validation.expectations.params import Params

E = TypeVar("E", bound=type[Expectation])

REGISTRY: dict[str, type[Expectation]] = {}


def register(cls: E) -> E:
    """Class decorator: make an expectation available to suites under its own ``type``."""
    kind = cls.__dict__.get("type")
    if not isinstance(kind, str) or kind in REGISTRY or inspect.isabstract(cls):
        raise TypeError(f"{cls.__name__} needs a unique type of its own, got {kind!r}")
    if not issubclass(cls.params, Params):
        raise TypeError(f"{cls.__name__}.params must be a Params model")
    REGISTRY[kind] = cls
    return cls
