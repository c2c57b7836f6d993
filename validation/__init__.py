"""Validation gates: Great Expectations suites evaluated natively on Dask partitions.

GE is the contract (suites are GE 1.x JSON, results are GE-shaped) and the test oracle, but it
is never imported on the hot path: see ``assay.validation.expectations`` for the native kernels.

Importing the package loads nothing else: a run without gates imports only the light
modules it uses (``results``, ``report``), not the expectation catalogue, whose 49 kernels
and their models cost about 0.1-0.16 s of every such run's start (benchmarks/RESULTS.md,
issue 15).
"""


# One copy of each module: a copy imported by its bare name would keep its own registries.
if __name__ != "assay.validation":
    raise ImportError(f"import assay.validation, not {__name__} (assay installs one package)")
