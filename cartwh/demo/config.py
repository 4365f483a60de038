"""Constants of the synthetic consortium: centres, calendar, calibration targets."""

from __future__ import annotations

from datetime import date

EPOCH = date(1970, 1, 1)
EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (days since 1899-12-30)

BASE_CENTRES = ("xz", "tj", "zz", "zj")
BASE_WEIGHTS = (40, 22, 18, 13)  # the study's unequal centre sizes (93 patients)
EXTRA_WEIGHT = 15  # weight of an extra centre c05, c06, ... (small N)
BALANCED_FROM = 1000  # from this many patients on, centres are equal-sized
LEE_CENTRE = "zz"  # the centre that reports grades by Lee 2014
CHUNK_PATIENTS = 2000  # patients generated at once (bounded memory)

INFUSION_START = date(2016, 5, 1)
INFUSION_END = date(2022, 12, 31)
INFUSION_TREND = 0.2  # density rises linearly over the period (1 + a*t)
MIN_FOLLOW_UP_DAYS = 60  # no infusion later than cut-off minus this
DELIVERY_INTERVAL_MONTHS = 6
WINDOW = 30  # toxicity window: day 0..30
EXCEL_MAX_ROWS = 1_048_576

STUDY_PATIENTS = 93
# Patient counts of the study cohort (93 patients); scaled by N/93 at other sizes.
TARGETS = {
    "male": 47,
    "early_death": 2,  # infection, day 1-4, before any toxicity
    "crs": 76,
    "crs_severe": 19,
    "crs_g4": 4,
    "crs_g2": 25,  # among non-severe CRS; the rest is grade 1
    "icans_with_crs": 15,
    "icans_without_crs": 1,
    "icans_severe": 8,
    "icans_g4": 3,
    "icans_g2": 4,  # among non-severe ICANS; the rest is grade 1
    "tocilizumab": 45,
    "steroids": 51,
    "non_cr": 5,  # alive at day 30 but not in CR (early deaths come on top)
    "mrd_negative": 70,  # among CR
    "kinetics": 24,
    "hsct": 23,
    "no_obs": 2,  # chart not abstracted: no daily observation at all
    "sparse": 2,  # fewer than 14 observed days
    "ltfu": 4,  # lost to follow-up
}


def epoch_day(d: date) -> int:
    return (d - EPOCH).days


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    import calendar

    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def delivery_dates(cutoff: date, deliveries: int) -> list[date]:
    return [
        add_months(cutoff, -DELIVERY_INTERVAL_MONTHS * (deliveries - 1 - i))
        for i in range(deliveries)
    ]
