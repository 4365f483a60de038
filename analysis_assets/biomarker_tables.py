"""Biomarkers and CAR-T expansion by group: medians (ranges) with Mann-Whitney U or
Kruskal-Wallis tests (study analyses 3 and Figure 4)."""

from __future__ import annotations

import pandas as pd

from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.rank_tests import compare_continuous
from analysis_assets.study import BIOMARKER_COMPARISONS


def biomarker_tests(mart: pd.DataFrame) -> pd.DataFrame:
    """One row per variable, comparison and group: n, median, min, max; the test and its p.

    The pairs are ``study.BIOMARKER_COMPARISONS``; the test is the study's rule
    (:func:`analysis_assets.rank_tests.compare_continuous`), none with a single group.
    """
    rows = []
    for variable, comparison in BIOMARKER_COMPARISONS:
        labels = group_labels(mart, comparison)
        values = pd.to_numeric(mart[variable], errors="coerce")
        usable = labels.notna() & values.notna()
        samples = {g: values[usable & (labels == g)].to_numpy() for g in group_order(comparison)}
        samples = {g: s for g, s in samples.items() if len(s)}
        result = compare_continuous(*samples.values()) if len(samples) >= 2 else None
        for group, sample in samples.items():
            rows.append(
                {
                    "variable": variable,
                    "comparison": comparison,
                    "group": group,
                    "n": len(sample),
                    "median": float(pd.Series(sample).median()),
                    "min": float(sample.min()),
                    "max": float(sample.max()),
                    "test": result.test if result else "not applicable (one group)",
                    "statistic": result.stat if result else None,
                    "p_value": result.p if result else None,
                }
            )
    return pd.DataFrame(rows)
