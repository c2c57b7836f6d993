"""The assay engine: specs, sources, cluster, runner and sinks. Runs without Prefect."""
