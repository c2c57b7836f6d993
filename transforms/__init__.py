"""The transform library: named steps that map a partition to a partition, plus the few
global steps (dedup) that need to see every row. Importing this package registers all steps."""

from assay.transforms.base import GlobalStep, PartitionStep, StepResult, registered_steps

__all__ = ["GlobalStep", "PartitionStep", "StepResult", "registered_steps"]


# One copy of each module: a copy imported by its bare name would keep its own registries.
if __name__ != "assay.transforms":
    raise ImportError(f"import assay.transforms, not {__name__} (assay installs one package)")
