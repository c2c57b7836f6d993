"""Orchestration: the Prefect ``ingest`` flow and the ``assay`` command line."""

# One copy of each module: a copy imported by its bare name would keep its own registries.
if __name__ != "assay.flows":
    raise ImportError(f"import assay.flows, not {__name__} (assay installs one package)")
