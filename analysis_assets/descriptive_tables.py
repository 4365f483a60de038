"""Descriptive tables: the cohort flow, Table 1 (characteristics by group) and the toxicity
and treatment summary. n and denominators everywhere; percentages computed (half-up)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis_assets.categorical import compare_categorical, describe_test
from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.formatting import percent, table_median_range
from analysis_assets.labels import label
from analysis_assets.rank_tests import compare_continuous
from analysis_assets.study import (
    OVERALL,
    OVERALL_GROUP,
    TABLE1_CATEGORICAL,
    TABLE1_COMPARISONS,
    TABLE1_CONTINUOUS,
)


def cohort_flow(flow: pd.DataFrame) -> pd.DataFrame:
    """``mart.cohort_flow`` with the percentage of the delivered patients kept at each step."""
    flow = flow.sort_values(["centre_code", "step_order"]).copy()
    first = flow.groupby("centre_code")["n"].transform("first")
    flow["denominator"] = first
    flow["pct_of_delivered"] = [percent(int(n), int(d)) for n, d in zip(flow["n"], first)]
    return flow.reset_index(drop=True)


def table1(mart: pd.DataFrame) -> pd.DataFrame:
    """Patient characteristics overall and by toxicity group, CRS and ICANS.

    Continuous: median (range), Mann-Whitney U / Kruskal-Wallis; categorical: n (%) over the
    patients with a known value, chi-squared or exact Fisher (study rule). Missing values are
    counted in their own row and left out of the tests.
    """
    rows = []
    overall = pd.Series(OVERALL_GROUP, index=mart.index, dtype=object)
    for comparison in (OVERALL, *TABLE1_COMPARISONS):
        labels = overall if comparison == OVERALL else group_labels(mart, comparison)
        order = (OVERALL_GROUP,) if comparison == OVERALL else group_order(comparison)
        groups = [g for g in order if (labels == g).any()]
        for column in TABLE1_CONTINUOUS:
            description = label(column)
            values = pd.to_numeric(mart[column], errors="coerce")
            samples = [values[labels == g].dropna().to_numpy() for g in groups]
            result = None
            if comparison != OVERALL and sum(len(s) > 0 for s in samples) >= 2:
                result = compare_continuous(*samples)
            for group, sample in zip(groups, samples):
                members = labels == group
                rows.append(
                    {
                        "comparison": comparison,
                        "characteristic": description,
                        "level": "median (range)",
                        "group": group,
                        "n": len(sample),
                        "denominator": int(members.sum()),
                        "value": table_median_range(values[members]),
                        "test": result.test if result else None,
                        "test_detail": result.test if result else None,
                        "p_value": result.p if result else None,
                    }
                )
        for column in TABLE1_CATEGORICAL:
            description = label(column)
            values = mart[column].astype(object).where(mart[column].notna())
            values = values.map(
                lambda v: (
                    {True: "yes", False: "no"}.get(v, v) if isinstance(v, (bool, np.bool_)) else v
                )
            )
            levels = sorted({str(v) for v in values.dropna()})
            known = values.notna()
            counts = np.array(
                [
                    [
                        int(((labels == g) & known & (values.astype(str) == level)).sum())
                        for g in groups
                    ]
                    for level in levels
                ]
            )
            result = None
            if (
                comparison != OVERALL
                and counts.size
                and counts.sum(axis=1).min() > 0
                and (counts.sum(axis=0) > 0).sum() >= 2
                and len(levels) >= 2
            ):
                used = counts[:, counts.sum(axis=0) > 0]
                result = compare_categorical(used)
            for level_index, level in enumerate([*levels, "missing"]):
                for group_index, group in enumerate(groups):
                    members = labels == group
                    denominator = int((members & known).sum())
                    if level == "missing":
                        n, shown_denominator = int((members & ~known).sum()), int(members.sum())
                    else:
                        n, shown_denominator = int(counts[level_index, group_index]), denominator
                    pct = percent(n, shown_denominator)
                    rows.append(
                        {
                            "comparison": comparison,
                            "characteristic": description,
                            "level": level,
                            "group": group,
                            "n": n,
                            "denominator": shown_denominator,
                            "value": f"{n} ({pct if pct is not None else '-'}%)",
                            "test": result.test if result else None,
                            "test_detail": describe_test(result) if result else None,
                            "p_value": result.p if result else None,
                        }
                    )
    return pd.DataFrame(rows)


def toxicity_summary(mart: pd.DataFrame) -> pd.DataFrame:
    """Incidence, onset and duration of CRS, severe CRS, ICANS, severe ICANS and both; use and
    doses of tocilizumab and corticosteroids (dexamethasone equivalents)."""
    gradable = mart["crs_max_grade"].notna() & mart["icans_max_grade"].notna()
    crs = pd.to_numeric(mart["crs_max_grade"], errors="coerce")
    icans = pd.to_numeric(mart["icans_max_grade"], errors="coerce")
    measures = [
        ("CRS (any grade)", crs >= 1, crs.notna(), "crs_onset_day", "crs_duration_days"),
        ("severe CRS (grade >= 3)", crs >= 3, crs.notna(), "severe_crs_onset_day", None),
        ("ICANS (any grade)", icans >= 1, icans.notna(), "icans_onset_day", "icans_duration_days"),
        (
            "severe ICANS (grade >= 3 or seizure)",
            mart["severe_icans"].astype("boolean").fillna(False),
            mart["severe_icans"].notna(),
            "severe_icans_onset_day",
            None,
        ),
        (
            "CRS and ICANS",
            mart["concurrent_crs_icans"].astype("boolean").fillna(False),
            gradable,
            None,
            None,
        ),
        (
            "tocilizumab",
            mart["received_tocilizumab"].astype("boolean").fillna(False),
            mart["received_tocilizumab"].notna(),
            "tocilizumab_first_day",
            "tocilizumab_duration_days",
        ),
        (
            "corticosteroids",
            mart["received_steroids"].astype("boolean").fillna(False),
            mart["received_steroids"].notna(),
            "steroid_first_day",
            "steroid_duration_days",
        ),
    ]
    rows = []
    for name, has, known, onset, duration in measures:
        has = has.fillna(False).astype(bool) & known
        n, denominator = int(has.sum()), int(known.sum())
        row = {
            "measure": name,
            "n": n,
            "denominator": denominator,
            "pct": percent(n, denominator),
            "first_day_median_range": table_median_range(pd.to_numeric(mart.loc[has, onset]))
            if onset
            else None,
            "duration_days_median_range": table_median_range(pd.to_numeric(mart.loc[has, duration]))
            if duration
            else None,
            "cumulative_dose_mg_median_range": None,
            "dose_known": None,
        }
        dose_column = {
            "tocilizumab": "tocilizumab_total_mg",
            "corticosteroids": "steroid_dex_equiv_mg",
        }.get(name)
        if dose_column:
            doses = pd.to_numeric(mart.loc[has, dose_column])
            row["cumulative_dose_mg_median_range"] = table_median_range(doses)
            row["dose_known"] = int(doses.notna().sum())
        rows.append(row)
    return pd.DataFrame(rows)
