"""Per-partition shared work: once per scope and key, never across scopes or threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from assay.validation.expectations.shared import partition_scope, shared


def test_computed_once_per_scope_and_key() -> None:
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name.upper()

    with partition_scope():
        assert shared("a", lambda: compute("a")) == "A"
        assert shared("a", lambda: compute("a")) == "A"
        assert shared("b", lambda: compute("b")) == "B"
    with partition_scope():
        shared("a", lambda: compute("a"))
    shared("a", lambda: compute("a"))  # no scope: computed every time
    assert calls == ["a", "b", "a", "a"]


def test_threads_do_not_share_scopes() -> None:
    def evaluate(n: int) -> list[int]:
        with partition_scope():
            return [shared("key", lambda: n) for _ in range(100)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(evaluate, range(16)))
    assert all(values == [n] * 100 for n, values in enumerate(results))
