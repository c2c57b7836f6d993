"""Shared fixtures.

Only ``flows`` tests need Prefect; they ask for ``prefect_harness``, which starts one
temporary Prefect server (a few seconds) per test session and worker process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throwaway Prefect server and database for the whole session."""
    import os

    from prefect.testing.utilities import prefect_test_harness

    # The test server would try to send telemetry, and log an error where it cannot.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=120):
        yield
