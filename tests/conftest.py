"""Shared fixtures.

Only ``flows`` tests need Prefect; they ask for ``prefect_harness``, which starts one
temporary Prefect server (a few seconds) per test session and worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.dask_cli_cluster import CliCluster, dask_cli_cluster

# helpers whose asserts should explain themselves like a test's
pytest.register_assert_rewrite("tests.fault_kit", "tests.published")


@pytest.fixture(scope="session", autouse=True)
def assay_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the ledger, landing zone and dataset locks of every test run out of ``~/.assay``
    (tests that need their own data directory set ``ASSAY_DATA_DIR`` themselves), and the
    ``assay`` commands tests start from launching run daemons that outlive them (the
    daemon's tests ask for one)."""
    import os

    previous = {name: os.environ.get(name) for name in ("ASSAY_DATA_DIR", "ASSAY_DAEMON")}
    os.environ["ASSAY_DATA_DIR"] = str(tmp_path_factory.mktemp("assay-data"))
    os.environ["ASSAY_DAEMON"] = "off"
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def no_dask_profiler() -> Iterator[None]:
    """The tests' own clusters (in process, and the ``dask`` processes they start) run
    without Dask's statistical profiler, as the engine's workers do
    (``assay.pipelines.workers``): its ``sys._current_frames()`` every 10 ms can deadlock
    Python 3.11 before 3.11.9 against the garbage collector (CPython gh-106883), and once
    hung a test worker's session cluster for good."""
    import os

    import dask

    from assay.pipelines.workers import PROFILER, worker_environment

    name = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"
    previous = os.environ.get(name)
    os.environ[name] = worker_environment()[name]
    with dask.config.set({PROFILER: False}):
        yield
    if previous is None:
        os.environ.pop(name)
    else:
        os.environ[name] = previous


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throwaway Prefect server and database for the whole session."""
    import os

    from prefect.testing.utilities import prefect_test_harness

    # The test server would try to send telemetry, and log an error where it cannot.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def cli_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliCluster]:
    """A ``dask scheduler`` and two ``dask worker`` processes on loopback, for the session:
    what ``--cluster tcp://host:port`` joins in production."""
    with dask_cli_cluster(tmp_path_factory.mktemp("dask-cli")) as cluster:
        yield cluster


@pytest.fixture
def count_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, int]]:
    """``count_calls(module, *names)``: wrap each function so its calls are counted in the
    returned dict (the functions still run)."""

    def wrap(module: ModuleType, *names: str) -> dict[str, int]:
        calls = dict.fromkeys(names, 0)
        for name in names:
            original = getattr(module, name)

            def counted(*args: Any, _name: str = name, _original: Any = original,
                        **kwargs: Any) -> Any:
                calls[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)
        return calls

    return wrap
