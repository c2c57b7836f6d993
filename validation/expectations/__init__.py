"""Native kernels for GE expectations, one small class per expectation.

Adding an expectation:

1. Declare its kwargs as a pydantic model: subclass ``params.Params`` (or a group of it:
   ``Conditional`` for GE's row_condition keys, ``ColumnParams``, ``ColumnMapParams``,
   ``StrictBounds[...]``) and use the field types of ``fields`` (``Flag``, ``Number``,
   ``Comparable``, ``Regex``...), each field with a short ``Field(description=...)``.
   Checks across keys are ``model_validator``s raising ValueError; unknown keys are refused.
2. Write one class: subclass ``base.Expectation`` (or a family: ``column_map.
   ColumnMapExpectation``, ``aggregate._MetricBetween``...), set ``type`` to GE's name and
   ``params`` to the model; read the validated kwargs from ``self.kw``.
3. Decorate it with ``registry.register``; a new module goes into ``catalogue``.
4. If a partition needs something about the whole table (duplicated keys, the value before
   it), return typed ``requests`` (see ``requests``) and read their answers in ``partial``.
5. Add its cases to the GE-agreement tests (``tests/validation``): they check the registry
   against them.
"""

from assay.validation.expectations import catalogue  # noqa: F401  (registers them all)
from assay.validation.expectations.base import ConfigError, Expectation, ExpectationError, Table
from assay.validation.expectations.registry import REGISTRY

__all__ = ["REGISTRY", "ConfigError", "Expectation", "ExpectationError", "Table"]
