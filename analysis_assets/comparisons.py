"""The study's patient groupings (:mod:`analysis_assets.study`), as labelled columns of the mart.

Each comparison maps a patient to a group label, or to missing when the patient cannot be
placed (not gradable, treatment unknown); such patients are left out of that comparison only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis_assets.study import COMPARISONS, OTHER_GROUPINGS, TOXICITY_GROUP_CODES

__all__ = ["group_order", "group_labels"]


def group_order(comparison: str) -> tuple[str, ...]:
    """The group labels of a comparison (or other grouping) in display order."""
    if comparison in COMPARISONS:
        return COMPARISONS[comparison].groups
    return OTHER_GROUPINGS[comparison]


def _yes_no(flag: pd.Series, labels: tuple[str, ...]) -> pd.Series:
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
    """Group label of every patient of ``mart.patient_outcomes`` for one comparison.

    Parameters
    ----------
    mart : DataFrame
        Rows of ``mart.patient_outcomes``.
    comparison : str
        A key of ``study.COMPARISONS`` or ``study.OTHER_GROUPINGS``.

    Returns
    -------
    Series of object
        The group label, or None when the patient cannot be placed.
    """
    labels = group_order(comparison)
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
        return mart["toxicity_group"].map(dict(zip(TOXICITY_GROUP_CODES, labels))).astype(object)
    if comparison == "tocilizumab":
        return _yes_no(mart["received_tocilizumab"], labels)
    if comparison == "steroids":
        return _yes_no(mart["received_steroids"], labels)
    if comparison == "bm_blasts_ge_20":
        flag = mart["bm_blasts_ge_20"].astype("boolean")
        return flag.map({True: labels[1], False: labels[0]}).astype(object).where(flag.notna())
    raise KeyError(comparison)
