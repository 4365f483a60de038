"""Audit of printed numbers: does each printed percentage follow from its count and
denominator, and does each printed hazard ratio agree with its printed CI and p?

A printed number stands for every value that rounds to it: ``0.250`` for [0.2495, 0.2505],
``5.3`` for [5.25, 5.35], ``< 0.001`` for [0, 0.001).  Every tolerance below is that interval
(:func:`rounding_interval`), never a fixed number.

* **Percentages** (:func:`check_percentage`): match when ``100 * count / denominator``, rounded
  half-up (:func:`analysis_assets.formatting.percent`) to the printed decimals, equals the
  printed value.
* **Hazard ratios** (:func:`check_hazard_ratio`), for a Wald CI ``exp(b ± z * se)``: on the
  log scale the HR is the centre of its CI, ``b = (log L + log U) / 2``, and the CI's width
  gives the SE, ``se = (log U - log L) / (2 z)``; then ``p = 2 * (1 - Phi(|b| / se))``.  The
  HR matches when some HR, L and U that print as printed have the HR at the centre of the CI;
  the p matches when some such values give a p that prints as printed.

The published numbers of the study are transcribed in ``published_numbers.json`` (each with
the verbatim quote it comes from); :func:`audit_publication` audits them, and
:func:`analysis_assets.report_numbers.audit_report_tables` this project's own tables as the
report prints them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from analysis_assets.formatting import percent

__all__ = [
    "FINDING_COLUMNS",
    "MATCH",
    "MISMATCH",
    "PUBLISHED_NUMBERS",
    "decimals",
    "rounding_interval",
    "check_percentage",
    "check_hazard_ratio",
    "audit_percentages",
    "audit_hazard_ratios",
    "audit_publication",
    "published_numbers",
    "empty_findings",
    "PUBLICATION",
]

#: the study's printed numbers, transcribed with the quote each comes from
PUBLISHED_NUMBERS = Path(__file__).with_name("published_numbers.json")
MATCH, MISMATCH = "match", "mismatch"
#: the ``source`` of the study's own numbers (others: the name of the audited table)
PUBLICATION = "publication"
#: one row per check
FINDING_COLUMNS = [
    "source",
    "location",
    "quantity",
    "check",
    "printed",
    "recomputed",
    "verdict",
    "reason",
]
CHECK_PERCENTAGE = "percentage from count and denominator"
CHECK_CENTRE = "HR at the centre of its CI (log scale)"
CHECK_P = "p from HR and CI (Wald)"

_NUMBER = re.compile(r"^\s*(?P<less><\s*)?(?P<value>[0-9][0-9,]*(?:\.[0-9]+)?)\s*$")


def _parse(text: str) -> tuple[Decimal, bool]:
    found = _NUMBER.match(str(text))
    if not found:
        raise ValueError(f"not a printed number: {text!r}")
    return Decimal(found["value"].replace(",", "")), bool(found["less"])


def decimals(text: str) -> int:
    """Decimals of a printed number: ``"0.250"`` -> 3, ``"1,338"`` -> 0, ``"< 0.001"`` -> 3."""
    value, _ = _parse(text)
    return max(0, -value.as_tuple().exponent)


def rounding_interval(text: str) -> tuple[float, float]:
    """The values that print as ``text``: half a unit of its last decimal either side.

    Parameters
    ----------
    text : str
        A printed number (``"5.3"``, ``"0.250"``, ``"1,338"``), or ``"< x"`` for a value
        printed as below ``x``.

    Returns
    -------
    (float, float)
        Lower and upper limit; ``"< x"`` gives ``(0, x)``.

    Raises
    ------
    ValueError
        When ``text`` is not a printed number.
    """
    value, less = _parse(text)
    if less:
        return 0.0, float(value)
    half = Decimal(5).scaleb(-decimals(text) - 1)
    return float(max(value - half, Decimal(0))), float(value + half)


@dataclass(frozen=True)
class Finding:
    """One check of one printed quantity."""

    source: str
    location: str
    quantity: str
    check: str
    printed: str
    recomputed: str
    verdict: str
    reason: str


def check_percentage(
    count: int, denominator: int, printed: str, *, source: str, location: str, quantity: str
) -> Finding:
    """Does ``printed`` (a percentage, without ``%``) follow from ``count`` of ``denominator``?

    Parameters
    ----------
    count, denominator : int
    printed : str
        The percentage as printed, its decimals included (``"48.3"``, ``"2.65"``, ``"100"``).
    source, location, quantity : str
        Where the number is printed and what it counts (carried to the finding).

    Returns
    -------
    Finding
        ``match`` when ``100 * count / denominator`` rounded half-up to the printed decimals
        equals the printed value.
    """
    digits = decimals(printed)
    if denominator <= 0 or not 0 <= count <= denominator:
        return Finding(
            source,
            location,
            quantity,
            CHECK_PERCENTAGE,
            f"{printed}%",
            "",
            MISMATCH,
            f"{count} of {denominator} is not a proportion",
        )
    recomputed = percent(int(count), int(denominator), digits)
    exact = 100 * count / denominator
    same = recomputed == float(_parse(printed)[0])
    reason = f"{count} of {denominator} is {exact:.{digits + 2}f}%"
    if not same:
        reason += f", which rounds to {recomputed:.{digits}f}%, not {printed}%"
    return Finding(
        source,
        location,
        quantity,
        CHECK_PERCENTAGE,
        f"{printed}%",
        f"{recomputed:.{digits}f}%",
        MATCH if same else MISMATCH,
        reason,
    )


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def _p_of_z(z: float) -> float:
    return 2.0 * (1.0 - NormalDist().cdf(abs(z)))


def _log_interval(text: str) -> tuple[float, float]:
    low, high = rounding_interval(text)
    if low <= 0:
        raise ValueError(f"a ratio printed as {text!r} cannot be checked on the log scale")
    return math.log(low), math.log(high)


def _z_range(lower, upper, centre, z_level: float) -> tuple[float, float]:
    """Smallest and largest |b| / se over the log limits (lo, hi) in the box ``lower x upper``
    with (lo + hi) / 2 in ``centre`` (when that leaves none, over the whole box).

    b / se = z_level (lo + hi) / (hi - lo) is linear-fractional in (lo, hi), so its extremes
    over the convex polygon box ∩ strip lie at the polygon's vertices."""
    (lo0, lo1), (hi0, hi1) = lower, upper
    eps = 1e-12  # floating-point slack of the vertex arithmetic, not a tolerance of the check

    def inside(lo, hi, c0, c1):
        return (
            lo0 - eps <= lo <= lo1 + eps
            and hi0 - eps <= hi <= hi1 + eps
            and c0 - eps <= (lo + hi) / 2 <= c1 + eps
            and hi > lo
        )

    def vertices(c0, c1):
        points = [(lo, hi) for lo in (lo0, lo1) for hi in (hi0, hi1)]
        for c in (c0, c1):
            points += [(lo, 2 * c - lo) for lo in (lo0, lo1)]
            points += [(2 * c - hi, hi) for hi in (hi0, hi1)]
        return [(lo, hi) for lo, hi in points if inside(lo, hi, c0, c1)]

    points = vertices(*centre) or vertices(-math.inf, math.inf)
    zs = [z_level * (lo + hi) / (hi - lo) for lo, hi in points]
    low, high = min(zs), max(zs)
    if low <= 0 <= high:
        return 0.0, max(-low, high)
    return min(abs(low), abs(high)), max(abs(low), abs(high))


def check_hazard_ratio(
    hazard_ratio: str,
    ci_lower: str,
    ci_upper: str,
    p_value: str | None,
    *,
    source: str,
    location: str,
    quantity: str,
    level: float = 0.95,
) -> list[Finding]:
    """Is a printed HR the centre of its printed CI on the log scale, and does its printed p
    follow from the HR and the SE the CI's width gives?

    Parameters
    ----------
    hazard_ratio, ci_lower, ci_upper : str
        As printed, each with its own decimals (``"0.785"``, ``"0.25"``, ``"2.466"``).
    p_value : str or None
        As printed (``"0.678"``, ``"< 0.001"``, ``"1"``); None when none is printed (then only
        the HR is checked).
    source, location, quantity : str
        Carried to the findings.
    level : float, default 0.95
        Confidence level of the (Wald) CI.

    Returns
    -------
    list of Finding
        The HR-vs-CI check, then the p check when a p is printed.
    """
    z_level = _z(level)
    hr = _log_interval(hazard_ratio)
    lower, upper = _log_interval(ci_lower), _log_interval(ci_upper)
    printed_ci = f"{hazard_ratio} ({ci_lower}–{ci_upper})"
    centre_range = ((lower[0] + upper[0]) / 2, (lower[1] + upper[1]) / 2)
    feasible = (max(hr[0], centre_range[0]), min(hr[1], centre_range[1]))
    centred = feasible[0] <= feasible[1]
    point_l, point_u = math.log(float(_parse(ci_lower)[0])), math.log(float(_parse(ci_upper)[0]))
    centre = math.exp((point_l + point_u) / 2)
    digits = decimals(hazard_ratio)
    reason = (
        f"the printed CI is centred at {math.exp(centre_range[0]):.{digits + 1}f} to "
        f"{math.exp(centre_range[1]):.{digits + 1}f} on the log scale; the printed HR stands "
        f"for {math.exp(hr[0]):.{digits + 1}f} to {math.exp(hr[1]):.{digits + 1}f}"
    )
    findings = [
        Finding(
            source,
            location,
            quantity,
            CHECK_CENTRE,
            printed_ci,
            f"{centre:.{digits}f}",
            MATCH if centred else MISMATCH,
            reason,
        )
    ]
    if p_value is None:
        return findings
    z_low, z_high = _z_range(lower, upper, feasible if centred else (-math.inf, math.inf), z_level)
    p_low, p_high = _p_of_z(z_high), _p_of_z(z_low)
    printed_p = rounding_interval(p_value)
    consistent = p_low < printed_p[1] and printed_p[0] <= p_high
    se = (point_u - point_l) / (2 * z_level)
    p_point = _p_of_z(math.log(float(_parse(hazard_ratio)[0])) / se)
    p_digits = max(decimals(p_value), 3)
    findings.append(
        Finding(
            source,
            location,
            quantity,
            CHECK_P,
            p_value,
            f"{p_point:.{p_digits}f}",
            MATCH if consistent else MISMATCH,
            f"HR and CI as printed give p from {p_low:.{p_digits + 1}f} to "
            f"{p_high:.{p_digits + 1}f}; the printed p stands for {printed_p[0]:g} to "
            f"{printed_p[1]:g}",
        )
    )
    return findings


def _frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([f.__dict__ for f in findings], columns=FINDING_COLUMNS)


def empty_findings() -> pd.DataFrame:
    """A findings table without rows."""
    return _frame([])


def audit_percentages(rows: pd.DataFrame, source: str) -> pd.DataFrame:
    """:func:`check_percentage` on every row.

    Parameters
    ----------
    rows : DataFrame
        Columns ``location``, ``quantity``, ``count``, ``denominator``, ``printed``.
    source : str

    Returns
    -------
    DataFrame
        :data:`FINDING_COLUMNS`, one row per input row.
    """
    return _frame(
        [
            check_percentage(
                int(r.count),
                int(r.denominator),
                str(r.printed),
                source=source,
                location=str(r.location),
                quantity=str(r.quantity),
            )
            for r in rows.itertuples(index=False)
        ]
    )


def audit_hazard_ratios(rows: pd.DataFrame, source: str) -> pd.DataFrame:
    """:func:`check_hazard_ratio` on every row.

    Parameters
    ----------
    rows : DataFrame
        Columns ``location``, ``quantity``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``,
        ``p_value`` (text as printed; a missing p is not checked).
    source : str

    Returns
    -------
    DataFrame
        :data:`FINDING_COLUMNS`, two rows per input row (one when no p is printed).
    """
    findings: list[Finding] = []
    for r in rows.itertuples(index=False):
        p = None if pd.isna(r.p_value) or str(r.p_value) == "" else str(r.p_value)
        findings += check_hazard_ratio(
            str(r.hazard_ratio),
            str(r.ci_lower),
            str(r.ci_upper),
            p,
            source=source,
            location=str(r.location),
            quantity=str(r.quantity),
        )
    return _frame(findings)


# --------------------------------------------------------------------------- the publication
def published_numbers(path: Path = PUBLISHED_NUMBERS) -> dict:
    """The transcription: ``source``, ``percentages`` and ``hazard_ratios`` (see the file)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def audit_publication(path: Path = PUBLISHED_NUMBERS) -> pd.DataFrame:
    """Every transcribed number of the study, checked; ``location`` is its verbatim quote."""
    numbers = published_numbers(path)
    pct = pd.DataFrame(numbers["percentages"]).rename(columns={"quote": "location"})
    hrs = pd.DataFrame(numbers["hazard_ratios"]).rename(columns={"quote": "location"})
    return pd.concat(
        [audit_percentages(pct, PUBLICATION), audit_hazard_ratios(hrs, PUBLICATION)],
        ignore_index=True,
    )
