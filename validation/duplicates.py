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

Where the key holds an integer, boolean or timestamp column whose values span few more
integers than there are rows (row ids, counters: the most common unique keys), that
column's values are counted instead (``counted_positions``: one ``bincount``, no sort of
the table), and a row is a candidate where its value repeats. For a key of that column
alone the candidates are exactly the duplicates; for a compound key they are a superset
(a compound key repeats only where each of its columns does), which the same check on
the real values narrows, and where they are many the hashes' sort is used after all.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import numpy as np

from assay.transforms.frame import array_module, array_values, hash_rows, library, on_device

ROW, PARTITION = "__row", "__partition"
SPAN_PER_ROW = 2  # counted when the values span at most this many integers a row
CANDIDATE_SHARE = 0.1  # a compound key's counted candidates, at most this share of rows
_INTEGER_KINDS = "iubM"  # dtype kinds held as 64-bit integers: integers, booleans, timestamps
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
        if column.dtype.kind not in _INTEGER_KINDS:
            return None
        values = _integers(column).view(np.uint64)
        if mixed is not None:  # rotate what came before, so (a, b) and (b, a) differ
            values = values ^ ((mixed << np.uint64(23)) | (mixed >> np.uint64(41)))
        mixed = values * _ODD
    return mixed


def _integers(column: Any) -> np.ndarray:
    """A host column of integers, booleans or timestamps as int64 (uint64 for unsigned
    integers), a null as 0 (a timestamp's as NaT's value)."""
    kind = column.dtype.kind
    if kind == "M":
        return column.array.asi8
    return column.to_numpy(dtype=np.uint64 if kind == "u" else np.int64, na_value=0)


def _counted_column(keys: Any) -> str | None:
    """The key's column whose values ``counted_positions`` may count: its first integer,
    boolean or timestamp column, on the host (None: none)."""
    if on_device(keys):
        return None
    return next((name for name in keys.columns if keys[name].dtype.kind in _INTEGER_KINDS), None)


def _key_summary(keys: Any, drop_nulls: bool) -> tuple[Any, Any, Any, Any]:
    """What a partition hands the count: the positions of the rows it counts (None: all of
    them; under ``drop_nulls`` a row with a null key is left out), their key hashes, and
    the values of the column that may be counted with their nulls (None, None where the
    key has none). A tuple: dask gathers it as one object, and nothing of it outlives the
    count."""
    hashes = integer_key_hash(keys)
    if hashes is None:  # candidates are checked exactly
        hashes = array_values(hash_rows(keys, list(keys.columns)))
    counted = nulls = rows = None
    if (name := _counted_column(keys)) is not None:
        counted, nulls = _integers(keys[name]), keys[name].isna().to_numpy()
    if drop_nulls and bool(keys.isna().any().any()):
        present = array_values(reduce(operator.and_, (keys[c].notna() for c in keys.columns)))
        rows = array_module(keys).flatnonzero(present)
        hashes = hashes[rows]
        if counted is not None:
            counted, nulls = counted[rows], nulls[rows]
    return rows, hashes, counted, nulls


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


def counted_positions(values: list[np.ndarray], nulls: list[np.ndarray], exact: bool
                      ) -> list[np.ndarray] | None:
    """Per part, the sorted positions of the rows whose value (int64 or uint64) occurs more
    than once over all parts, or that are null (``nulls``) where another row is too, found
    by counting the values: None where they span more than ``SPAN_PER_ROW`` integers a
    row, or, unless ``exact`` (the key is this column alone), where more than
    ``CANDIDATE_SHARE`` of the rows would be candidates."""
    total = sum(len(part) for part in values)
    present = [part[~null] if null.any() else part
               for part, null in zip(values, nulls, strict=True)]
    if not any(len(part) for part in present):
        return None
    low = min(int(part.min()) for part in present if len(part))
    span = max(int(part.max()) for part in present if len(part)) - low + 1
    if span > SPAN_PER_ROW * total:
        return None
    # every value's offset from the lowest, as int64, in one array (a null's offset is
    # never read): fresh memory costs page faults, so the only other array this large is
    # the counts
    offsets = np.concatenate(values)
    offsets -= offsets.dtype.type(low)
    offsets = offsets.view(np.int64)
    null = np.concatenate(nulls)
    has_nulls = bool(null.any())
    repeated = np.bincount(offsets[~null] if has_nulls else offsets, minlength=span) > 1
    if has_nulls:
        hit = np.where(null, int(null.sum()) > 1, repeated[np.where(null, 0, offsets)])
    else:
        hit = repeated[offsets]
    cuts = np.cumsum([len(part) for part in values])[:-1]
    found = [np.flatnonzero(piece) for piece in np.split(hit, cuts)]
    if not exact and sum(len(part) for part in found) > CANDIDATE_SHARE * total:
        return None
    return found


def _repeated(summaries: list[tuple[Any, Any, Any, Any]], exact: bool) -> list[Any]:
    """Per partition, the sorted positions of its candidates: counted where the counted
    column allows (``exact``: the key is that column alone), else from the hashes' sort."""
    found = None
    if summaries[0][2] is not None:
        found = counted_positions([counted for _, _, counted, _ in summaries],
                                  [nulls for _, _, _, nulls in summaries], exact)
    if found is None:
        found = repeated_positions([hashes for _, hashes, _, _ in summaries])
    return [positions if rows is None else rows[positions]
            for (rows, *_), positions in zip(summaries, found, strict=True)]


def _candidates(keys: Any, repeats: list[Any], partition_info: dict | None = None) -> Any:
    """The keys of the rows whose hash repeats, with their partition and position."""
    number = _number(partition_info)
    rows = repeats[number]
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
    repeats = keys.reduction(chunk=_key_summary, aggregate=_repeated, meta=object,
                             split_every=False, chunk_kwargs={"drop_nulls": drop_nulls},
                             aggregate_kwargs={"exact": len(columns) == 1})
    xp = array_module(keys._meta)
    found = _candidates(keys._meta, [xp.zeros(0, dtype=xp.int64)])
    candidates = keys.map_partitions(_candidates, repeats, meta=found, align_dataframes=False)
    duplicated = candidates.repartition(npartitions=1).map_partitions(
        _duplicated, columns, meta=found[[PARTITION, ROW]])
    flags_meta = library(keys._meta).Series(dtype=bool)
    return keys.map_partitions(_flags, duplicated, meta=flags_meta, enforce_metadata=False,
                               align_dataframes=False)
