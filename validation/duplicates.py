"""Duplicate rows: which rows share their key with another row anywhere in the table.

``duplicate_rows(live, columns, drop_nulls)`` is a lazy bool column with one partition per
partition of ``live``, True where the row's key values occur in another row of ``live``;
passed to ``map_partitions`` next to ``live`` it is zipped partition by partition.

Rows are first counted by a 64-bit hash of their key: every partition hands over its
hashes, and one task packs each hash's top bits with the row's position over the whole
table into one uint64 and sorts them once (numpy's vectorised sort, about 30 ns a value,
where a hash table pays a cache miss per row; ``benchmarks/RESULTS.md``, gate evaluation).
A hash repeats where its top bits equal a neighbour's, and the position beside them says
which row that is, so each partition gets the positions of its own candidates with no
lookup. Only those rows (the duplicates, and any collision of the kept bits: about n**2 /
2**64 of them for n rows) are gathered in one partition and checked on their real values
by ``duplicated`` (nulls equal to nulls, as GE's pandas engine compares them), so a
collision never makes a duplicate. Each partition then flags its own rows found
duplicated, by position: nothing is hashed or matched twice.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import numpy as np

from assay.transforms.frame import array_module, array_values, hash_rows, library, on_device

KEY_HASH, ROW, PARTITION = "__key_hash", "__row", "__partition"
_ODD = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads sequential ids' top bits


def _number(partition_info: dict | None) -> int:
    return (partition_info or {}).get("number", 0)


def integer_key_hash(keys: Any) -> np.ndarray | None:
    """A uint64 per row for keys of integer, boolean or timestamp columns on the host, by
    multiplying their 64-bit values by an odd constant (and mixing columns): 10x cheaper
    than pandas' row hash. Equal keys get equal values (every null of a column the same
    one: NaT's, or 0's); a null and a real 0, or keys of several columns, may share one,
    and the candidates' check on the real values keeps the answer exact. None for other
    keys, which ``hash_rows`` hashes."""
    if on_device(keys):
        return None
    mixed = None
    for name in keys.columns:
        column = keys[name]
        kind = column.dtype.kind
        if kind not in "iubM":
            return None
        values = (column.array.asi8 if kind == "M"
                  else column.to_numpy(dtype=np.uint64 if kind == "u" else np.int64,
                                       na_value=0))
        values = values.view(np.uint64)
        if mixed is not None:  # rotate what came before, so (a, b) and (b, a) differ
            values = values ^ ((mixed << np.uint64(23)) | (mixed >> np.uint64(41)))
        mixed = values * _ODD
    return mixed


def _hashed(keys: Any, drop_nulls: bool) -> Any:
    """Each row's position in the partition and the hash of its key (rows with a null
    key left out under ``drop_nulls``)."""
    xp = array_module(keys)
    rows = xp.arange(len(keys))
    hashes = integer_key_hash(keys)
    if hashes is None:  # candidates are checked exactly
        hashes = array_values(hash_rows(keys, list(keys.columns)))
    if drop_nulls and bool(keys.isna().any().any()):
        present = array_values(reduce(operator.and_, (keys[c].notna() for c in keys.columns)))
        rows, hashes = rows[present], hashes[present]
    return library(keys).DataFrame({ROW: rows, KEY_HASH: hashes})


def repeated_positions(parts: list[Any]) -> list[Any]:
    """Per part of ``parts`` (uint64 hashes, numpy or CuPy, at least one part), the sorted
    positions in it whose hash's top bits occur more than once over all parts: every
    repeated hash, and the rare hashes that share only the kept bits (see the module
    docstring)."""
    xp = array_module(parts[0])
    sizes = [len(part) for part in parts]
    total = sum(sizes)
    bits = max(total - 1, 1).bit_length()  # the low bits that hold a position
    low = (1 << bits) - 1
    keep = xp.uint64(((1 << 64) - 1) ^ low)
    packed = xp.empty(total, dtype=xp.uint64)
    start = 0
    for part in parts:  # a part at a time: temporaries of a partition's size, not the table's
        end = start + len(part)
        xp.bitwise_and(part, keep, out=packed[start:end])
        packed[start:end] |= xp.arange(start, end, dtype=xp.uint64)
        start = end
    packed.view(xp.int64).sort()  # equal top bits stay together; int64 sorts faster
    top = packed >> xp.uint64(bits)
    same = top[1:] == top[:-1]
    flagged = xp.zeros(total, dtype=bool)
    flagged[1:] |= same
    flagged[:-1] |= same
    positions = (packed[flagged] & xp.uint64(low)).astype(xp.int64)
    positions.sort()
    ends = xp.cumsum(xp.asarray(sizes, dtype=xp.int64))
    cuts = xp.searchsorted(positions, ends).tolist()
    starts = [0, *ends.tolist()[:-1]]
    return [positions[a:b] - start for a, b, start in zip([0, *cuts[:-1]], cuts, starts,
                                                          strict=True)]


def _hashes(hashed: Any) -> tuple[Any]:
    return (array_values(hashed[KEY_HASH]),)  # a tuple: dask gathers it as one object


def _repeated(chunks: Any) -> list[Any]:
    return repeated_positions([hashes for hashes, in chunks])


def _candidates(keys: Any, hashed: Any, repeats: list[Any],
                partition_info: dict | None = None) -> Any:
    """The keys of the rows whose hash repeats, with their partition and position."""
    number = _number(partition_info)
    rows = array_values(hashed[ROW])[repeats[number]]
    return keys.iloc[rows].assign(**{ROW: rows, PARTITION: number})


def _duplicated(candidates: Any, columns: list[str]) -> Any:
    """Where the candidates' real key values repeat: (partition, position) of those rows."""
    found = candidates.duplicated(subset=columns, keep=False)
    return candidates.loc[found, [PARTITION, ROW]]


def _flags(keys: Any, duplicated: Any, partition_info: dict | None = None) -> Any:
    own = duplicated[ROW][duplicated[PARTITION] == _number(partition_info)]
    flags = array_module(keys).zeros(len(keys), dtype=bool)
    flags[array_values(own)] = True
    return library(keys).Series(flags, index=keys.index)


def duplicate_rows(live: Any, columns: list[str], drop_nulls: bool) -> Any:
    """See the module docstring; with ``drop_nulls`` a row with a null key is never a
    duplicate (GE ignores it), else nulls equal nulls."""
    keys = live[columns]
    meta = _hashed(keys._meta, drop_nulls)
    hashed = keys.map_partitions(_hashed, drop_nulls, meta=meta)
    repeats = hashed.reduction(chunk=_hashes, aggregate=_repeated, meta=object,
                               split_every=False)
    found = _candidates(keys._meta, meta, repeated_positions([array_values(meta[KEY_HASH])]))
    candidates = keys.map_partitions(_candidates, hashed, repeats, meta=found,
                                     align_dataframes=False)
    duplicated = candidates.repartition(npartitions=1).map_partitions(
        _duplicated, columns, meta=found[[PARTITION, ROW]])
    flags_meta = library(meta).Series(dtype=bool)
    return keys.map_partitions(_flags, duplicated, meta=flags_meta, enforce_metadata=False,
                               align_dataframes=False)
