"""Native kernels for GE expectations, one small class per expectation (see ``registry``)."""

from validation.expectations.base import ConfigError, Expectation, ExpectationError, Table
from validation.expectations.registry import REGISTRY

__all__ = ["REGISTRY", "ConfigError", "Expectation", "ExpectationError", "Table"]
