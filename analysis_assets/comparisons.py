"""The study's patient groupings (paper-cohort.md), as labelled columns of the mart.

Each comparison maps a patient to a group label, or to missing when the patient cannot be
placed (not gradable, treatment unknown); such patients are left out of that comparison only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: comparison -> (description, group labels in display order)
COMPARISONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "crs": ("CRS (any grade) vs none", ("no CRS", "CRS")),
    "icans": ("ICANS (any grade) vs none", ("no ICANS", "ICANS")),
    "crs_and_icans": ("CRS and ICANS vs others", ("others", "CRS and ICANS")),
    "crs_grade": ("CRS grade", ("none", "grade 1-2", "grade >=3")),
    "icans_grade": ("ICANS grade", ("none", "grade 1-2", "grade >=3")),
    "toxicity_group": (
        "three-level toxicity group",
        ("no CRS/ICANS", "other", "grade >=3 CRS or ICANS"),
    ),
    "tocilizumab": ("tocilizumab vs none", ("no tocilizumab", "tocilizumab")),
    "steroids": ("corticosteroids vs none", ("no steroids", "steroids")),
}


def _yes_no(flag: pd.Series, labels: tuple[str, str]) -> pd.Series:
    values = flag.astype("boolean")
    return pd.Series(
        np.where(values.isna(), None, np.where(values.fillna(False), labels[1], labels[0])),
        index=flag.index,
        dtype=object,
    )


def _grade_strata(grade: pd.Series, labels: tuple[str, ...]) -> pd.Series:
    grade = pd.to_numeric(grade, errors="coerce")
    out = pd.Series(None, index=grade.index, dtype=object)
    out[grade == 0] = labels[0]
    out[(grade >= 1) & (grade <= 2)] = labels[1]
    out[grade >= 3] = labels[2]
    return out


def group_labels(mart: pd.DataFrame, comparison: str) -> pd.Series:
    """Group label of every patient of ``mart.patient_outcomes`` for one comparison."""
    labels = COMPARISONS[comparison][1]
    if comparison == "crs":
        return _yes_no(pd.to_numeric(mart["crs_max_grade"]) >= 1, labels).where(
            mart["crs_max_grade"].notna()
        )
    if comparison == "icans":
        return _yes_no(pd.to_numeric(mart["icans_max_grade"]) >= 1, labels).where(
            mart["icans_max_grade"].notna()
        )
    if comparison == "crs_and_icans":
        return _yes_no(mart["concurrent_crs_icans"], labels)
    if comparison == "crs_grade":
        return _grade_strata(mart["crs_max_grade"], labels)
    if comparison == "icans_grade":
        return _grade_strata(mart["icans_max_grade"], labels)
    if comparison == "toxicity_group":
        mapping = dict(zip(("none", "other", "grade_3_plus"), labels))
        return mart["toxicity_group"].map(mapping).astype(object)
    if comparison == "tocilizumab":
        return _yes_no(mart["received_tocilizumab"], labels)
    if comparison == "steroids":
        return _yes_no(mart["received_steroids"], labels)
    raise KeyError(comparison)
