"""Biomarkers and CAR-T expansion by group: medians (ranges) with Mann-Whitney U or
Kruskal-Wallis tests (study analyses 3 and Figure 4)."""

from __future__ import annotations

import pandas as pd

from analysis_assets.comparisons import group_labels
from analysis_assets.rank_tests import kruskal_wallis, mann_whitney

#: (variable, comparison) pairs of the study
BIOMARKER_COMPARISONS = [
    ("peak_il6_pg_ml", "crs"),
    ("peak_il6_pg_ml", "icans"),
    ("peak_il6_pg_ml", "bm_blasts_ge_20"),
    ("cell_dose_per_kg", "crs"),
    ("peak_car_copies", "crs"),
    ("peak_car_copies", "icans"),
    ("peak_car_copies", "toxicity_group"),
    ("peak_car_copies", "crs_and_icans"),
    ("peak_car_copies", "tocilizumab"),
    ("peak_car_copies", "steroids"),
]
BLAST_LABELS = ("BM blasts <20%", "BM blasts >=20%")


def _labels(mart: pd.DataFrame, comparison: str) -> tuple[pd.Series, tuple[str, ...]]:
    if comparison == "bm_blasts_ge_20":
        flag = mart["bm_blasts_ge_20"].astype("boolean")
        labels = flag.map({True: BLAST_LABELS[1], False: BLAST_LABELS[0]}).astype(object)
        return labels.where(flag.notna()), BLAST_LABELS
    from analysis_assets.comparisons import COMPARISONS

    return group_labels(mart, comparison), COMPARISONS[comparison][1]


def biomarker_tests(mart: pd.DataFrame) -> pd.DataFrame:
    """One row per variable, comparison and group: n, median, min, max; the test and its p."""
    rows = []
    for variable, comparison in BIOMARKER_COMPARISONS:
        labels, order = _labels(mart, comparison)
        values = pd.to_numeric(mart[variable], errors="coerce")
        usable = labels.notna() & values.notna()
        samples = {g: values[usable & (labels == g)].to_numpy() for g in order}
        samples = {g: s for g, s in samples.items() if len(s)}
        if len(samples) == 2:
            result = mann_whitney(*samples.values())
        elif len(samples) > 2:
            result = kruskal_wallis(*samples.values())
        else:
            result = None
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
