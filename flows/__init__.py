"""Orchestration: the Prefect ``ingest`` flow and the ``assay`` command line."""
