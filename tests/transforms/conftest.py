"""Fixtures for transform tests: a typical partition and one small in-process Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[object]:
    """Two single-threaded workers in this process: real scheduling, fast start."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def people() -> pd.DataFrame:
    """A partition with every pipeline dtype, nulls, and a non-contiguous index."""
    index = [10, 3, 7, 42, 5]
    seen = [
        "2024-01-02T03:04:05Z",
        None,
        "2023-06-01T00:00:00Z",
        "2024-12-31T23:00:00Z",
        "2022-02-02T02:02:02Z",
    ]
    return pd.DataFrame(
        {
            "name": ["  Ann ", "bob", None, "Ce\u0301cile", "dan"],
            "age": [31, None, 45, 17, 60],
            "score": [1.5, 2.0, float("nan"), -3.0, 10.0],
            "active": [True, False, None, True, False],
            "seen": pd.to_datetime(seen, utc=True),
        },
        index=index,
    ).astype(
        {
            "name": "str",
            "age": "Int64",
            "score": "float64",
            "active": "boolean",
            "seen": "datetime64[us, UTC]",
        }
    )
