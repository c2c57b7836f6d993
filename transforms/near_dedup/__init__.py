"""Near-duplicate documents (``near_dedup``): MinHash, LSH candidates, verified Jaccard,
connected components on the Dask cluster. One job per module; ``step`` wires them."""

from assay.transforms.near_dedup.step import NearDedup

__all__ = ["NearDedup"]
