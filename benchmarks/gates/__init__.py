"""The gate benchmark: assay's native suite evaluation against GE's own pandas engine."""
