"""Quality filters (Gopher, C4, FineWeb) as partition steps: scores plus decisions."""

from assay.transforms.quality import c4, fineweb, gopher, repetition  # noqa: F401  (registers)
