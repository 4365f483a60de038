"""How the study prints numbers, p-values and labels: one implementation each, used by the
figures, the report's sentences and the report's tables.

Rounding is half-up, never Python's banker's rounding: ``round(0.125, 2)`` is 0.12 in Python
(round-half-even on the binary value); the study rounds half up (12.5 -> 13, 12.25 -> 12.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import TypeVar

import numpy as np
import pandas as pd

from analysis_assets.labels import VARIABLES, label
from analysis_assets.study import COMPARISONS, COVARIATES

__all__ = [
    "round_half_up",
    "percent",
    "is_missing",
    "format_p_value",
    "format_p",
    "format_number",
    "format_percent",
    "median_range",
    "table_median_range",
    "comparison_label",
    "term_label",
    "test_label",
    "column_label",
    "count_of",
    "format_date",
    "format_estimate_ci",
    "format_power_of_ten",
    "strip_schema",
    "by_table_name",
]

#: p-values are printed to this many decimals; a smaller rounded p prints as "< 0.001"
P_DIGITS = 3
P_FLOOR = 10.0**-P_DIGITS

T = TypeVar("T")


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
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, float):
        d = Decimal(repr(float(value)))  # float(): numpy's repr is "np.float64(...)"
    else:
        d = Decimal(value)
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


def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas' NA; False for anything else (lists included)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_p_value(p) -> str:
    """A p-value as the study prints it: ``0.046``, ``< 0.001`` or ``n/a``.

    Half-up to 3 decimals; when the rounded value is below 0.001 it prints as ``< 0.001``
    (so 0.0005 prints as 0.001 and 0.00049 as ``< 0.001``).

    Parameters
    ----------
    p : float or None

    Returns
    -------
    str
    """
    if is_missing(p):
        return "n/a"
    rounded = round_half_up(float(p), P_DIGITS)
    if rounded < P_FLOOR:
        return f"< {P_FLOOR:.{P_DIGITS}f}"
    return f"{rounded:.{P_DIGITS}f}"


def format_p(p) -> str:
    """``p = 0.046``, ``p < 0.001`` or ``p = n/a`` (figures and sentences).

    Parameters
    ----------
    p : float or None

    Returns
    -------
    str
    """
    text = format_p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_number(value, digits: int = 1) -> str:
    """A number for the text: integers as such, otherwise half-up to ``digits``.

    Parameters
    ----------
    value : float, int or None
    digits : int, default 1

    Returns
    -------
    str
        With thousands separators; ``n/a`` when missing.
    """
    if is_missing(value):
        return "n/a"
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{round_half_up(value, digits):,.{digits}f}"


def format_percent(count: int, total: int) -> str:
    """``80.0%`` (half-up, 1 decimal), or ``n/a`` when ``total`` is 0."""
    p = percent(int(count), int(total))
    return "n/a" if p is None else f"{p:.1f}%"


def median_range(values, unit: str = "") -> str:
    """``28 years (range 22–70)`` for the text; ``n/a`` when no value is known.

    Parameters
    ----------
    values : array-like
        Non-numeric and missing values are ignored.
    unit : str, default ""
        Printed after the median.

    Returns
    -------
    str
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().astype(float)
    if v.empty:
        return "n/a"
    unit = f" {unit}" if unit else ""
    return (
        f"{format_number(np.median(v))}{unit} "
        f"(range {format_number(v.min())}–{format_number(v.max())})"
    )


def table_median_range(values: pd.Series) -> str:
    """``28 (22-70)``, 4 significant digits, ``-`` when empty: the descriptive tables' cells.

    Its output is part of the published analysis tables: change it only on purpose.
    """
    values = values.dropna()
    if values.empty:
        return "-"
    return f"{values.median():.4g} ({values.min():.4g}-{values.max():.4g})"


def comparison_label(comparison: str) -> str:
    """The description of a comparison of the study; for another grouping (a column such as
    ``bm_blasts_ge_20``) its label in :mod:`analysis_assets.labels`, else its name."""
    known = COMPARISONS.get(comparison)
    if known:
        return known.description
    return label(comparison, unit=False) if comparison in VARIABLES else comparison


#: the tests' names as the analysis tables store them -> as a reader names them
TEST_LABELS: dict[str, str] = {
    "fisher": "Fisher's exact test",
    "chi-squared": "Pearson's chi-squared test",
    "Mann-Whitney U": "Mann–Whitney U test",
    "Kruskal-Wallis": "Kruskal–Wallis test",
}


def test_label(test) -> str:
    """``fisher`` -> ``Fisher's exact test`` (an unknown name is returned as it is)."""
    return TEST_LABELS.get(str(test), str(test))


#: unit suffixes of extract-format column names -> the unit as printed
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_pg_ml", "pg/mL"),
    ("_ng_ml", "ng/mL"),
    ("_per_ug_gdna", "per µg gDNA"),
    ("_pct", "%"),
    ("_kg", "kg"),
    ("_mg", "mg"),
    ("_ge_20", "≥ 20%"),
)


def column_label(column: str) -> str:
    """A column as people read it: its label with unit from :mod:`analysis_assets.labels`;
    a column the registry lacks (e.g. a raw extract-format field) in words, its unit suffix
    spelled out (``copies_per_ug_gdna`` -> ``copies per µg gDNA``)."""
    column = str(column)
    if column in VARIABLES:
        return label(column)
    for suffix, unit in _UNIT_SUFFIXES:
        if column.endswith(suffix):
            words = column[: -len(suffix)].replace("_", " ")
            return f"{words} {unit}" if unit.startswith(("≥", "per")) else f"{words}, {unit}"
    return column.replace("_", " ")


def count_of(count: int, total: int, who: str = "") -> str:
    """``75 of 92 gradable patients (81.5%)``: the count, its stated denominator and the
    half-up percentage (:func:`percent`).

    Parameters
    ----------
    count, total : int
    who : str, default ""
        Names the denominator (``gradable patients``); empty leaves it out.

    Returns
    -------
    str
    """
    who = f" {who}" if who else ""
    return f"{int(count)} of {int(total)}{who} ({format_percent(count, total)})"


def format_date(day) -> str:
    """``1 March 2023`` (day, English month name, year)."""
    months = (
        "January February March April May June July August September October November December"
    ).split()
    return f"{day.day} {months[day.month - 1]} {day.year}"


def format_estimate_ci(estimate, lower, upper, unit: str = "", level: int = 95) -> str:
    """``40.1 months (95% CI 30.2–NR)``; a missing estimate or limit is NR (not reached)."""

    def shown(value) -> str:
        return "NR" if is_missing(value) else format_number(value)

    unit = f" {unit}" if unit and not is_missing(estimate) else ""
    return f"{shown(estimate)}{unit} ({level}% CI {shown(lower)}–{shown(upper)})"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_power_of_ten(value: float) -> str:
    """``1e-10`` -> ``10⁻¹⁰``; ``2.5e-4`` -> ``2.5 × 10⁻⁴``; plain numbers from 0.1 to 1000."""
    value = float(value)
    if 0.1 <= abs(value) < 1000:
        return format_number(value, 2)
    mantissa, exponent = f"{value:.1e}".split("e")
    power = f"10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    mantissa = mantissa.rstrip("0").rstrip(".")
    return power if mantissa == "1" else f"{mantissa} × {power}"


def term_label(term: str, description: str) -> str:
    """A Cox model term in words.

    ``toxicity_group[grade_3_plus]`` -> ``three-level toxicity group: grade >=3 CRS or ICANS
    vs no CRS/ICANS``; ``toxicity_group (overall Wald test)`` -> ``three-level toxicity
    group (overall Wald test)``; any other term -> its description.

    Parameters
    ----------
    term : str
        As in the Cox tables' ``term`` column.
    description : str
        The covariate's description (the tables' ``description`` column).

    Returns
    -------
    str
    """
    term, description = str(term), str(description)
    name, bracket, level = term.partition("[")
    if bracket and level.endswith("]"):
        level = level[:-1]
        covariate = COVARIATES.get(name)
        labels = covariate.level_labels if covariate else {}
        reference = covariate.reference if covariate else None
        versus = labels.get(reference, reference) if reference else "reference"
        return f"{description}: {labels.get(level, level)} vs {versus}"
    if "overall" in term:
        return f"{description} (overall Wald test)"
    return description


def strip_schema(name: str) -> str:
    """A table's bare name: ``analysis.cox_multivariate`` -> ``cox_multivariate``."""
    return name.split(".")[-1]


def by_table_name(tables: Mapping[str, T]) -> dict[str, T]:
    """``tables`` keyed by bare table names (the ``schema.`` prefix is optional)."""
    return {strip_schema(name): value for name, value in tables.items()}
