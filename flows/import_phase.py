"""Importing the CLI's libraries without the cyclic garbage collector.

Importing pandas, pyarrow, Dask and the step library allocates hundreds of thousands of
objects that live as long as the process, and the collector walks them again and again
while they are being created: with it paused the imports of a run take about 12% less CPU
(``benchmarks/RESULTS.md``, issue 15, fixed cost). Frozen afterwards (the permanent
generation), they are never walked again, so the run's own collections only see the run's
objects, as in the daemon's children. Standard library only: the launcher uses it before it
knows what it will import.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block (imports) with the collector off; afterwards freeze what survived
    and switch the collector back on. Nested or already-off use changes nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
