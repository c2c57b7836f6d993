"""PII: the ``pii`` step (``step``), its detectors (``detectors``: candidate patterns and
validators per kind) and the partition scan (``scan``: RE2 prefilter, then validators on
the candidates only)."""

from assay.transforms.pii.step import Pii

__all__ = ["Pii"]
