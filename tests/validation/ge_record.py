"""GE's answers, recorded: the oracle's results kept in ``tests/data``, so that a suite run
asks GE's engine only what it has not answered before, plus a fixed sample of what it has.

GE takes about 0.1 s per expectation (most of it building its metric graph), and the
catalogue tests ask it thousands of times: a third of the suite's time went there. An
answer is keyed by what it depends on: GE's version, the releases of pandas, numpy and
pyarrow, the frame GE sees (every value's ``repr``, with the dtypes and index) and the
expectation's config. A changed frame, case or release is a new key, answered by GE
itself. ``ASSAY_GE_ORACLE``:

- ``recorded`` (default): recorded answers; GE for keys it has not answered and for one
  recorded key in ``VERIFIED_ONE_IN``, which must still agree (else the record is stale);
- ``live``: GE for every key, each recorded answer checked against it;
- ``record``: as ``live``, and this session's new answers are added to the record (to drop
  answers no test asks for, delete the file and record with the whole suite).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy
import pandas as pd
import pyarrow

RECORD = Path(__file__).parents[1] / "data" / "ge_answers.jsonl.gz"
MODES = ("recorded", "live", "record")
VERIFIED_ONE_IN = 16
KEPT = ("success", "result", "exception_info")


def mode() -> str:
    chosen = os.environ.get("ASSAY_GE_ORACLE", "recorded")
    if chosen not in MODES:
        raise ValueError(f"ASSAY_GE_ORACLE={chosen!r}: expected one of {', '.join(MODES)}")
    return chosen


@cache
def _versions() -> dict[str, str]:
    """GE's exact version (the oracle), and the releases of what it computes with: a CI
    install takes their latest patches, and the sampled re-asking catches one that
    changes an answer."""
    import great_expectations

    def release(version: str, parts: int) -> str:
        return ".".join(version.split(".")[:parts])

    return {"great_expectations": great_expectations.__version__,
            "pandas": release(pd.__version__, 2), "numpy": release(numpy.__version__, 1),
            "pyarrow": release(pyarrow.__version__, 1)}


def _frame_text(frame: pd.DataFrame) -> str | None:
    """The frame as GE reads it: every column's name, dtype and values (their ``repr``),
    and the index; None where a value's ``repr`` is its address (no stable key)."""
    columns = [(repr(name), repr(column.dtype), repr(column.tolist()))
               for name, column in frame.items()]
    text = repr((columns, repr(frame.index.dtype), frame.index.name, frame.index.tolist()))
    return None if " at 0x" in text else text


class FrameDigests:
    """Each frame's digest, worked out once per distinct pickle: a pickle is cheap and
    names one frame, but not canonically (it carries pandas' caches and shared dtype
    objects), so it picks the work, never the key."""

    def __init__(self) -> None:
        self.known: dict[bytes, str | None] = {}

    def __call__(self, frame: pd.DataFrame) -> str | None:
        pickled = pickle.dumps(frame, protocol=5)
        if pickled not in self.known:
            text = _frame_text(frame)
            self.known[pickled] = None if text is None else _sha256(text)
        return self.known[pickled]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key(frame_digest: str, config: dict[str, Any]) -> str:
    return _sha256(json.dumps([_versions(), frame_digest, config], sort_keys=True,
                              default=_plain))


def _plain(value: Any) -> Any:
    """A config value JSON has no form for, in one that does not depend on hash order."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def _without_tracebacks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: None if k == "exception_traceback" else _without_tracebacks(v)
                for k, v in value.items()}
    return value


def kept(answer: dict[str, Any]) -> dict[str, Any]:
    """What the tests read of GE's ``to_json_dict``, as it reads back from the record (a
    live answer is passed through JSON too, so both look alike to a test)."""
    trimmed = _without_tracebacks({k: answer[k] for k in KEPT})
    return json.loads(json.dumps(trimmed, default=_python_scalar))


def _python_scalar(value: Any) -> Any:
    """GE's ``to_json_dict`` leaves some numpy scalars (a ``numpy.bool_`` success)."""
    if isinstance(value, numpy.generic):
        return value.item()
    raise TypeError(f"GE answered with a {type(value).__name__}, which JSON cannot hold")


def _raised(answer: dict[str, Any]) -> bool:
    info = answer["exception_info"]
    return bool(info.get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _unordered(value: Any) -> Any:
    """Lists as multisets: GE builds some from sets (``partial_missing_list``), in an
    order that follows the hash seed."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value),
                      key=lambda v: json.dumps(v, sort_keys=True, default=repr))
    return value


def _verdict(answer: dict[str, Any]) -> tuple[Any, ...]:
    """What must not change between GE's answers to one key: the result (its lists in any
    order), the success and whether GE raised (not the message, whose wording follows the
    Python version)."""
    return answer["success"], _unordered(answer["result"]), _raised(answer)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """xdist workers add to one record: one at a time."""
    with open(Path(tempfile.gettempdir()) / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    with gzip.open(path, "rt") as lines:
        return {entry["key"]: entry["answer"] for entry in map(json.loads, lines)}


class RecordedOracle:
    """GE's answers by key, from the record where the mode allows, else from GE."""

    def __init__(self, chosen: str = "recorded", path: Path = RECORD,
                 verified_one_in: int = VERIFIED_ONE_IN) -> None:
        self.mode = chosen
        self.path = path
        self.verified_one_in = verified_one_in
        self.known = _read(path)
        self.new: dict[str, dict[str, Any]] = {}
        self.digest = FrameDigests()

    def answer(self, frame: pd.DataFrame, config: dict[str, Any],
               ask: Callable[[], dict[str, Any]], keep: bool = True) -> dict[str, Any]:
        """``ask()`` (GE's ``to_json_dict``) where needed; ``keep=False`` for generated
        frames, whose answers are never recorded."""
        frame_digest = self.digest(frame) if keep else None
        if frame_digest is None:
            return kept(ask())
        found = key(frame_digest, config)
        recorded = self.known.get(found) or self.new.get(found)
        checked = int(found[:16], 16) % self.verified_one_in == 0
        if recorded is not None and self.mode == "recorded" and not checked:
            return recorded
        live = kept(ask())
        if recorded is None:
            self.new[found] = live
            return live
        if _verdict(recorded) != _verdict(live):
            raise AssertionError(
                f"GE's recorded answer to {config} no longer matches GE's own: "
                f"recorded {_verdict(recorded)}, now {_verdict(live)}. Record again with "
                f"ASSAY_GE_ORACLE=record (see {Path(__file__).name})")
        return recorded

    def save(self) -> None:
        """In ``record`` mode, this session's new answers are added to the record."""
        if self.mode != "record" or not self.new:
            return
        with _locked(self.path):
            merged = {**_read(self.path), **self.new}
            lines = (json.dumps({"key": k, "answer": merged[k]}, sort_keys=True) + "\n"
                     for k in sorted(merged))
            text = "".join(lines).encode()
            self.path.write_bytes(gzip.compress(text, mtime=0))  # same answers, same bytes
