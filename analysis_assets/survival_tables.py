"""OS and LFS by every comparison of the study: Kaplan-Meier estimates, medians and landmark
survival, log-rank tests, and median follow-up (plain functions on the mart; no Dagster)."""

from __future__ import annotations

import pandas as pd

from analysis_assets.comparisons import group_labels
from analysis_assets.study import (
    COMPARISONS,
    ENDPOINTS,
    LANDMARK_MONTHS,
    OVERALL,
    OVERALL_GROUP,
)
from analysis_assets.survival import (
    km_median,
    km_survival_at,
    km_table,
    logrank_test,
    median_followup,
)


def endpoint_frame(mart: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Patients evaluable for an endpoint: months and event present (LFS: CR patients only)."""
    spec = ENDPOINTS[endpoint]
    frame = mart[[spec.months, spec.event]].rename(
        columns={spec.months: "months", spec.event: "event"}
    )
    frame = frame.join(mart.drop(columns=[spec.months, spec.event]))
    return frame[frame["months"].notna() & frame["event"].notna()]


def survival_tables(mart: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``km_estimates``, ``survival_medians`` and ``logrank_tests`` for OS and LFS.

    Groups are the study's comparisons (:data:`analysis_assets.study.COMPARISONS`) plus
    ``overall``. Patients a comparison cannot place are left out of it (``n`` says how many
    remain). A comparison with fewer than two non-empty groups has no log-rank test.
    """
    km_rows, median_rows, logrank_rows = [], [], []
    for endpoint in ENDPOINTS:
        data = endpoint_frame(mart, endpoint)
        groupings = {OVERALL: pd.Series(OVERALL_GROUP, index=data.index, dtype=object)}
        groupings.update({c: group_labels(data, c) for c in COMPARISONS})
        for comparison, labels in groupings.items():
            placed = labels.notna()
            order = (
                COMPARISONS[comparison].groups if comparison in COMPARISONS else (OVERALL_GROUP,)
            )
            for group in order:
                members = data[placed & (labels == group)]
                if members.empty:
                    continue
                table = km_table(members["months"], members["event"])
                km_rows.append(table.assign(endpoint=endpoint, comparison=comparison, group=group))
                median = km_median(table)
                landmarks = km_survival_at(table, LANDMARK_MONTHS).set_index("time")
                row = {
                    "endpoint": endpoint,
                    "comparison": comparison,
                    "group": group,
                    "n": len(members),
                    "events": int(members["event"].sum()),
                    "median_months": median.median,
                    "median_ci_lower": median.ci_lower,
                    "median_ci_upper": median.ci_upper,
                }
                for month in LANDMARK_MONTHS:
                    row[f"survival_{month}m"] = landmarks.at[float(month), "survival"]
                    row[f"survival_{month}m_ci_lower"] = landmarks.at[float(month), "ci_lower"]
                    row[f"survival_{month}m_ci_upper"] = landmarks.at[float(month), "ci_upper"]
                median_rows.append(row)
            tested = data[placed]
            if (
                comparison != OVERALL
                and tested.loc[:, "months"].groupby(labels[placed]).size().gt(0).sum() >= 2
            ):
                result = logrank_test(tested["months"], tested["event"], labels[placed])
                logrank_rows.append(
                    {
                        "endpoint": endpoint,
                        "comparison": comparison,
                        "description": COMPARISONS[comparison].description,
                        "n": len(tested),
                        "groups": result.n_groups,
                        "chi_square": result.chisq,
                        "df": result.df,
                        "p_value": result.p,
                    }
                )
    km = pd.concat(km_rows, ignore_index=True).rename(columns={"time": "time_months"})
    km = km[
        [
            "endpoint",
            "comparison",
            "group",
            "time_months",
            "n_risk",
            "n_event",
            "n_censor",
            "survival",
            "ci_lower",
            "ci_upper",
        ]
    ]
    return {
        "km_estimates": km,
        "survival_medians": pd.DataFrame(median_rows),
        "logrank_tests": pd.DataFrame(
            logrank_rows,
            columns=[
                "endpoint",
                "comparison",
                "description",
                "n",
                "groups",
                "chi_square",
                "df",
                "p_value",
            ],
        ),
    }


def follow_up_table(mart: pd.DataFrame) -> pd.DataFrame:
    """Median follow-up by reverse Kaplan-Meier (death censors; censoring is the event)."""
    data = endpoint_frame(mart, "OS")
    estimate = median_followup(data["months"], data["event"])
    return pd.DataFrame(
        [
            {
                "method": "reverse Kaplan-Meier",
                "n": len(data),
                "median_months": estimate.median,
                "ci_lower": estimate.ci_lower,
                "ci_upper": estimate.ci_upper,
            }
        ]
    )
