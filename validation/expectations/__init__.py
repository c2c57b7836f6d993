"""Native kernels for GE expectations, one small class per expectation (see ``registry``)."""

from assay.validation.expectations.base import ConfigError, Expectation, ExpectationError, Table
from assay.validation.expectations.registry import REGISTRY

__all__ = ["REGISTRY", "ConfigError", "Expectation", "ExpectationError", "Table"]
