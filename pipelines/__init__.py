"""The assay engine: specs, sources, cluster, runner and sinks. Runs without Prefect."""

# One copy of each module: a copy imported by its bare name would keep its own registries.
if __name__ != "assay.pipelines":
    raise ImportError(f"import assay.pipelines, not {__name__} (assay installs one package)")
