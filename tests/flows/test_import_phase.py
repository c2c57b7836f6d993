"""``collector_paused``: the collector off during a block of imports, on again after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from assay.flows.import_phase import collector_paused


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    """Give this process's objects back to the collector after each test."""
    yield
    gc.unfreeze()
    gc.enable()


def test_the_block_runs_without_the_collector_and_its_objects_are_frozen() -> None:
    before = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
        kept = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)


def test_the_collector_comes_back_when_the_block_raises() -> None:
    with pytest.raises(ImportError), collector_paused():
        import assay_no_such_module  # noqa: F401
    assert gc.isenabled()


def test_a_nested_block_leaves_the_collector_to_the_outer_one() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
