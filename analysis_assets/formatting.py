"""Rounding for report tables: half-up, never Python's banker's rounding.

``round(0.125, 2)`` is 0.12 in Python (round-half-even on the binary value);
the study rounds half up (12.5 -> 13, 12.25 -> 12.3).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

__all__ = ["round_half_up", "percent"]


def round_half_up(value: float | int | Fraction | Decimal, digits: int = 1) -> float:
    """Round to ``digits`` decimals, halves away from zero (= half up for positives).

    Parameters
    ----------
    value : float, int, Fraction or Decimal
        A float is taken at its shortest decimal representation (``repr``), so
        ``round_half_up(2.675, 2) == 2.68`` although the binary double is
        slightly below 2.675.  Pass a ``Fraction`` for exact ratios.
    digits : int, default 1

    Returns
    -------
    float
    """
    q = Decimal(1).scaleb(-digits)
    if isinstance(value, Fraction):
        # exact: scale, round half up on the rational, rescale
        scaled = value * 10**digits
        n = round_half_up_int(abs(scaled)) * (1 if scaled >= 0 else -1)
        return float(Decimal(n).scaleb(-digits))
    d = (
        value
        if isinstance(value, Decimal)
        else Decimal(repr(value))
        if isinstance(value, float)
        else Decimal(value)
    )
    return float(d.quantize(q, rounding=ROUND_HALF_UP))


def round_half_up_int(value: Fraction) -> int:
    """Non-negative rational rounded half up to an integer."""
    floor = value.numerator // value.denominator
    return floor + (1 if value - floor >= Fraction(1, 2) else 0)


def percent(count: int, total: int, digits: int = 1) -> float | None:
    """``100 * count / total`` rounded half up exactly (rational arithmetic).

    Parameters
    ----------
    count, total : int
    digits : int, default 1

    Returns
    -------
    float or None
        None when ``total`` is 0.
    """
    if total == 0:
        return None
    return round_half_up(Fraction(100 * count, total), digits)
