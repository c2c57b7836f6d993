"""Validation gates: Great Expectations suites evaluated natively on Dask partitions.

GE is the contract (suites are GE 1.x JSON, results are GE-shaped) and the test oracle, but it
is never imported on the hot path: see ``validation.expectations`` for the native kernels.
"""

from validation.gate import GateEvaluator, GateResult, Stats
from validation.suite import Suite, SuiteError, load_gate_suite

__all__ = ["GateEvaluator", "GateResult", "Stats", "Suite", "SuiteError", "load_gate_suite"]
