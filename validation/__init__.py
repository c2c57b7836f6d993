"""Validation gates: Great Expectations suites evaluated natively on Dask partitions.

GE is the contract (suites are GE 1.x JSON, results are GE-shaped) and the test oracle, but it
is never imported on the hot path: see ``assay.validation.expectations`` for the native kernels.
"""

from assay.validation.gate import GateEvaluator, GateResult, Stats
from assay.validation.suite import Suite, SuiteError, load_gate_suite

__all__ = ["GateEvaluator", "GateResult", "Stats", "Suite", "SuiteError", "load_gate_suite"]


# One copy of each module: a copy imported by its bare name would keep its own registries.
if __name__ != "assay.validation":
    raise ImportError(f"import assay.validation, not {__name__} (assay installs one package)")
