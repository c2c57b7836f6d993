"""Exact sums of a column, so a sum or a mean does not depend on how rows fall into partitions.

Why our own: a float sum rounds after every addition, so its value depends on the order and
grouping of the additions (1e16 + 1 + 1 - 1e16 is 0 in one partition and 2 split in two),
and an int64 sum wraps past 9.2e18. ``math.fsum`` is exact but needs one Python float per
row; no array library offers an exact, mergeable float sum.

Method: every finite double is ``m * 2**(e - 53)`` with an integer ``|m| < 2**53`` (``frexp``),
so the sum times ``2**SCALE`` is an integer. A partition adds the mantissas per exponent
(``bincount``, exact: halves of 27 bits in chunks whose sums stay below 2**53), then shifts
the per-exponent sums into one Python int. Integers add their 32-bit halves the same way.
Partials add exactly; the total is rounded once (``Fraction`` to float rounds correctly).
Infinities are summed apart (inf + -inf is NaN, as in any float sum).

Where GE's pandas engine differs (it sums in the column's dtype, in row order): an int64 sum
past +-2**63 wraps around modulo 2**64; a float sum loses the low-order terms that a larger
intermediate absorbs (GE: 1e16 + 1 + 1 - 1e16 = 0, exact: 2), and becomes inf where an
intermediate passes 1.8e308 although the exact total is finite (GE: 1.7e308 + 1.7e308 -
1.7e308 - 1.7e308 = inf, exact: 0). The mean follows its sum; an int64 mean is right in GE
(it averages in float64). Everywhere else the two agree to the last bit or within rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from assay.transforms.frame import array_module, array_values

SCALE = 1127  # 2**SCALE times any finite double is an integer (smallest: 2**-1074 = 2**-1127+53)
_HALF = 26  # mantissas are added per exponent as two halves of at most 27 bits ...
_LOW = (1 << _HALF) - 1
_CHUNK = 1 << 25  # ... in float64 bincounts: 2**25 halves of 2**27 sum exactly (< 2**53)
_EXPONENTS = 1075  # frexp's exponents of finite doubles lie in -1073 .. 1024


@dataclass
class SumCount:
    """The exact sum and the count of a column's non-null values.

    Integer and boolean columns: ``total`` is the sum. Float columns (``floating``): ``total``
    is the finite values' sum times ``2**SCALE`` and ``infinite`` the infinities' (0, inf,
    -inf or NaN)."""

    total: int = 0
    count: int = 0
    floating: bool = False
    infinite: float = 0.0

    def __add__(self, other: SumCount) -> SumCount:
        return SumCount(self.total + other.total, self.count + other.count,
                        self.floating or other.floating, self.infinite + other.infinite)

    def sum(self) -> int | float:
        """The sum: an int for integer columns, the exact sum rounded once for floats."""
        return self._rounded(1) if self.floating else self.total

    def mean(self) -> float | None:
        """The mean, rounded once; None without values."""
        if not self.count:
            return None
        if self.floating:
            return self._rounded(self.count)
        return self.total / self.count  # int / int rounds correctly

    def _rounded(self, divisor: int) -> float:
        if self.infinite != 0:  # inf, -inf or NaN outweigh any finite sum
            return self.infinite
        try:
            return float(Fraction(self.total, divisor << SCALE))
        except OverflowError:
            return math.inf if self.total > 0 else -math.inf


def _halves_sum(values: Any, bits: int) -> int:
    """The exact sum of int64 ``values`` from two int64 sums of their halves."""
    high = values >> bits
    low = values & ((1 << bits) - 1)
    return (int(high.sum()) << bits) + int(low.sum())


def _float_total(values: Any) -> tuple[int, float]:
    """The finite values' sum times ``2**SCALE``, and the sum of the infinities."""
    xp = array_module(values)
    finite = xp.isfinite(values)
    infinite = 0.0
    if not bool(finite.all()):
        infinite += math.inf if bool((values == math.inf).any()) else 0.0
        infinite -= math.inf if bool((values == -math.inf).any()) else 0.0
    mantissas, exponents = xp.frexp(values[finite])
    mantissas = (mantissas * float(1 << 53)).astype(np.int64)
    slots = exponents + _EXPONENTS  # 0 .. 2 * _EXPONENTS
    total = 0
    for start in range(0, len(slots), _CHUNK):
        chunk = slice(start, start + _CHUNK)
        for half, shift in ((mantissas[chunk] >> _HALF, _HALF), (mantissas[chunk] & _LOW, 0)):
            sums = xp.bincount(slots[chunk], weights=half, minlength=2 * _EXPONENTS + 1)
            for slot in xp.flatnonzero(sums).tolist():
                total += int(sums[slot]) << (shift + slot - _EXPONENTS - 53 + SCALE)
    return total, infinite


def exact_sum(values: Any, kind: str) -> SumCount:
    """The ``SumCount`` of a column's non-null ``values`` of kind 'int', 'bool' or 'float'."""
    if len(values) == 0:
        return SumCount(floating=kind == "float")
    array = array_values(values.astype("float64" if kind == "float" else "int64"))
    if kind == "float":
        total, infinite = _float_total(array)
        return SumCount(total, len(values), True, infinite)
    if str(values.dtype).lower().startswith("uint"):
        array = array_values(values.astype("uint64"))
    return SumCount(_halves_sum(array, 32), len(values))
