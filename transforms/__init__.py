"""The transform library: named steps that map a partition to a partition, plus the few
global steps (dedup) that need to see every row. Importing this package registers all steps."""

from transforms.base import GlobalStep, PartitionStep, StepResult, registered_steps

__all__ = ["GlobalStep", "PartitionStep", "StepResult", "registered_steps"]
