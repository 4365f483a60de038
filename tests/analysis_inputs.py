"""Small hand-made mart and analysis tables (and a provenance) for the figure and report tests:
no warehouse needed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from analysis_assets.provenance import DeliveryUsed, Provenance

EVIL = "<script>alert(1)</script>"


def mart_table(n: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    crs = pd.array([0, 1, 2, 3, 1, 0, 2, 1, 4, 1][:n], dtype="Int32")
    icans = pd.array([0, 0, 1, 3, 0, 0, 0, 2, 0, None][:n], dtype="Int32")
    return pd.DataFrame(
        {
            "patient_key": [f"p{i:02d}" for i in range(n)],
            "centre_code": ["a", "b"] * (n // 2),
            "infusion_year": [2018 + i % 4 for i in range(n)],
            "age_at_infusion": pd.array([20 + 3 * i for i in range(n)], dtype="Int64"),
            "sex": ["m", "f", "m", "m", "f", "f", "m", "f", "m", "f"][:n],
            "cell_dose_per_kg": [1.0e6 + 1e5 * i for i in range(n)],
            "crs_max_grade": crs,
            "icans_max_grade": icans,
            "crs_onset_day": pd.array([None, 3, 4, 2, 6, None, 5, 7, 1, 4][:n], dtype="Int64"),
            "icans_onset_day": pd.array(
                [None, None, 8, 6, None, None, None, 9, None, None][:n], dtype="Int64"
            ),
            "concurrent_crs_icans": pd.array(
                [False, False, True, True, False, False, False, True, False, None][:n],
                dtype="boolean",
            ),
            "toxicity_group": [
                "none",
                "other",
                "other",
                "grade_3_plus",
                "other",
                "none",
                "other",
                "other",
                "grade_3_plus",
                None,
            ][:n],
            "received_tocilizumab": [
                False,
                True,
                True,
                True,
                False,
                False,
                True,
                False,
                True,
                False,
            ][:n],
            "tocilizumab_total_mg": [
                np.nan,
                400,
                480,
                800,
                np.nan,
                np.nan,
                320,
                np.nan,
                960,
                np.nan,
            ][:n],
            "tocilizumab_first_day": pd.array(
                [None, 4, 5, 3, None, None, 6, None, 2, None][:n], dtype="Int64"
            ),
            "received_steroids": [False, False, True, True, False, False, False, True, True, False][
                :n
            ],
            "steroid_dex_equiv_mg": [
                np.nan,
                np.nan,
                100,
                300,
                np.nan,
                np.nan,
                np.nan,
                50,
                200,
                np.nan,
            ][:n],
            "steroid_first_day": pd.array(
                [None, None, 8, 6, None, None, None, 9, 4, None][:n], dtype="Int64"
            ),
            "peak_car_copies": [np.nan, 1e4, 2e4, 5e4, 3e3, np.nan, 8e4, 1.5e4, 2e5, 7e3][:n],
            "cr_day30": [True, True, True, False, True, True, True, True, False, True][:n],
            "mrd_negative_cr": [True, False, True, False, True, True, False, True, False, True][:n],
            "cr_day": pd.array([28, 27, 30, None, 29, 26, 28, 31, None, 27][:n], dtype="Int64"),
            "os_months": rng.uniform(1, 60, n),
        }
    )


def daily_table(mart: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in mart.iterrows():
        for day in range(0, 31):
            crs = int(r["crs_max_grade"]) if pd.notna(r["crs_max_grade"]) and 3 <= day <= 7 else 0
            ic = r["icans_max_grade"]
            icans = int(ic) if pd.notna(ic) and 6 <= day <= 9 else 0
            rows.append((r["patient_key"], day, crs, icans))
    return pd.DataFrame(rows, columns=["patient_key", "study_day", "crs_grade", "icans_grade"])


#: one hand-made KM curve: 5 patients, events at 2 and 13, censored at 8, 30 and 40 months
KM_A = pd.DataFrame(
    {
        "time_months": [2.0, 8.0, 13.0, 30.0, 40.0],
        "n_risk": [5, 4, 3, 2, 1],
        "n_event": [1, 0, 1, 0, 0],
        "n_censor": [0, 1, 0, 1, 1],
        "survival": [0.8, 0.8, 0.5333, 0.5333, 0.5333],
    }
)


def km_table() -> pd.DataFrame:
    b = pd.DataFrame(
        {
            "time_months": [1.0, 12.0, 25.0],
            "n_risk": [3, 2, 1],
            "n_event": [1, 1, 0],
            "n_censor": [0, 0, 1],
            "survival": [2 / 3, 1 / 3, 1 / 3],
        }
    )
    parts = []
    for endpoint in ("OS", "LFS"):
        parts.append(KM_A.assign(endpoint=endpoint, comparison="crs", group="no CRS"))
        parts.append(b.assign(endpoint=endpoint, comparison="crs", group=EVIL))
    km = pd.concat(parts, ignore_index=True)
    km["ci_lower"] = km["survival"] * 0.8
    km["ci_upper"] = np.minimum(1, km["survival"] * 1.2)
    return km


def analysis_tables() -> dict[str, pd.DataFrame]:
    mart = mart_table()
    rr = []
    for response in ("cr_day30", "mrd_negative_cr"):
        for group, n, k in (("no CRS", 2, 2), ("CRS", 8, 6)):
            rr.append(
                (
                    response,
                    "all_infused",
                    "crs",
                    "CRS (any grade) vs none",
                    group,
                    n,
                    k,
                    100 * k / n,
                    "fisher",
                    0.5,
                )
            )
        rr.append(
            (
                response,
                "all_infused",
                "steroids",
                "corticosteroids vs none",
                EVIL,
                4,
                3,
                75.0,
                "fisher",
                0.25,
            )
        )
        rr.append(
            (
                response,
                "all_infused",
                "steroids",
                "corticosteroids vs none",
                "no steroids",
                6,
                5,
                83.3,
                "fisher",
                0.25,
            )
        )
    response_rates = pd.DataFrame(
        rr,
        columns=[
            "response",
            "basis",
            "comparison",
            "comparison_label",
            "group",
            "n",
            "responders",
            "rate_pct",
            "test",
            "p_value",
        ],
    )
    biomarker = pd.DataFrame(
        {
            "variable": ["peak_car_copies"] * 2,
            "comparison": ["crs"] * 2,
            "group": ["no CRS", "CRS"],
            "n": [1, 7],
            "median": [1e4, 2e4],
            "min": [1e4, 3e3],
            "max": [1e4, 2e5],
            "test": ["Mann-Whitney U"] * 2,
            "statistic": [3.0] * 2,
            "p_value": [0.62] * 2,
        }
    )
    cox = pd.DataFrame(
        {
            "endpoint": ["OS", "OS", "OS", "LFS"],
            "term": [
                "received_steroids",
                "toxicity_group[grade_3_plus]",
                "toxicity_group (overall Wald test)",
                "received_steroids",
            ],
            "description": [
                "received corticosteroids",
                "three-level toxicity group",
                "three-level toxicity group",
                "received corticosteroids",
            ],
            "hazard_ratio": [0.8, np.nan, np.nan, 1.2],
            "ci_lower": [0.4, np.nan, np.nan, 0.6],
            "ci_upper": [1.6, np.nan, np.nan, 2.4],
            "p_value": [0.5, np.nan, 0.7, 0.6],
            "wald_chi_square": [np.nan, np.nan, 0.7, np.nan],
            "wald_df": [np.nan, np.nan, 2, np.nan],
            "n": [10, 10, 10, 8],
            "events": [4, 4, 4, 3],
            "estimable": [True, False, True, True],
            "note": [None, "no events in group", None, None],
        }
    )
    logrank = pd.DataFrame(
        {
            "endpoint": ["OS", "LFS"],
            "comparison": ["crs", "crs"],
            "description": ["CRS (any grade) vs none"] * 2,
            "n": [8, 8],
            "groups": [2, 2],
            "chi_square": [1.2, 0.3],
            "df": [1, 1],
            "p_value": [0.27, 0.58],
        }
    )
    follow_up = pd.DataFrame(
        {
            "method": ["reverse Kaplan-Meier"],
            "n": [10],
            "median_months": [30.25],
            "ci_lower": [20.0],
            "ci_upper": [40.0],
        }
    )
    return {
        "mart.patient_outcomes": mart,
        "mart.daily_toxicity": daily_table(mart),
        "analysis.response_rates": response_rates,
        "analysis.biomarker_tests": biomarker,
        "analysis.cox_multivariate": cox,
        "analysis.logrank_tests": logrank,
        "analysis.km_estimates": km_table(),
        "analysis.follow_up": follow_up,
    }


PROVENANCE = Provenance(
    cutoff=date(2023, 3, 1),
    deliveries=(
        DeliveryUsed("a", "2023-01-01", "f" * 64, files=3, rows=1234),
        DeliveryUsed("b", "2023-02-01", "0" * 64, files=4, rows=56),
    ),
    code_version="cartwh 0.1 (deadbeef)",
    run_id="run-0001",
    generated_at=datetime(2026, 1, 1, tzinfo=UTC),
)
