"""Contract of ``mart.patient_outcomes``: what the analyses may rely on.

Used by the Dagster asset check on the mart (blocking: the statistics read this table) and
by the tests. Checks here are about the shape and the ranges of the derived values; the
clinical derivations themselves are tested by dbt unit tests.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

GRADE = {"ge": 0, "le": 5, "nullable": True}
STUDY_DAY = {"ge": 0, "nullable": True}


def _day(**kw):
    return pa.Field(**{**STUDY_DAY, **kw})


class PatientOutcomes(pa.DataFrameModel):
    patient_key: Series[str] = pa.Field(str_matches=r"^[0-9a-f]{64}$", unique=True)
    centre_code: Series[str] = pa.Field(str_matches=r"^[a-z0-9]{2,16}$")
    infusion_year: Series[pd.Int64Dtype] = pa.Field(ge=2000, le=2100)
    age_at_infusion: Series[pd.Int64Dtype] = pa.Field(ge=0, le=120, nullable=True)
    sex: Series[str] = pa.Field(isin=["m", "f"], nullable=True)
    ph_status: Series[str] = pa.Field(isin=["positive", "negative", "unknown"], nullable=True)
    prior_therapy_lines: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    relapse_count: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    disease_status: Series[str] = pa.Field(isin=["relapsed", "refractory"], nullable=True)
    prior_hsct: Series[str] = pa.Field(isin=["yes", "no"], nullable=True)
    bm_blasts_pct_pre: Series[float] = pa.Field(ge=0, le=100, nullable=True)
    bm_blasts_ge_20: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    cell_dose_per_kg: Series[float] = pa.Field(gt=0, nullable=True)
    crs_max_grade: Series[pd.Int64Dtype] = pa.Field(**GRADE)
    crs_onset_day: Series[pd.Int64Dtype] = _day()
    crs_duration_days: Series[pd.Int64Dtype] = _day()
    crs_grade_source: Series[str] = pa.Field(isin=["derived", "reported"], nullable=True)
    icans_max_grade: Series[pd.Int64Dtype] = pa.Field(**GRADE)
    icans_onset_day: Series[pd.Int64Dtype] = _day()
    icans_duration_days: Series[pd.Int64Dtype] = _day()
    icans_grade_source: Series[str] = pa.Field(isin=["derived", "reported"], nullable=True)
    severe_crs: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    severe_crs_onset_day: Series[pd.Int64Dtype] = _day()
    severe_icans: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    severe_icans_onset_day: Series[pd.Int64Dtype] = _day()
    concurrent_crs_icans: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    toxicity_group: Series[str] = pa.Field(isin=["none", "other", "grade_3_plus"], nullable=True)
    received_tocilizumab: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    tocilizumab_total_mg: Series[float] = pa.Field(ge=0, nullable=True)
    tocilizumab_first_day: Series[pd.Int64Dtype] = _day()
    tocilizumab_duration_days: Series[pd.Int64Dtype] = pa.Field(ge=1, nullable=True)
    received_steroids: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    steroid_dex_equiv_mg: Series[float] = pa.Field(ge=0, nullable=True)
    steroid_first_day: Series[pd.Int64Dtype] = _day()
    steroid_duration_days: Series[pd.Int64Dtype] = pa.Field(ge=1, nullable=True)
    peak_il6_pg_ml: Series[float] = pa.Field(ge=0, nullable=True)
    peak_ferritin_ng_ml: Series[float] = pa.Field(ge=0, nullable=True)
    peak_car_copies: Series[float] = pa.Field(ge=0, nullable=True)
    car_peak_day: Series[pd.Int64Dtype] = _day()
    car_auc_0_28: Series[float] = pa.Field(ge=0, nullable=True)
    car_last_detectable_day: Series[pd.Int64Dtype] = _day()
    response_evaluable: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    cr_day30: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    mrd_negative_cr: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    cr_day: Series[pd.Int64Dtype] = pa.Field(ge=21, le=45, nullable=True)
    os_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    os_months: Series[float] = pa.Field(ge=0, nullable=True)
    os_event: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)
    lfs_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    lfs_months: Series[float] = pa.Field(ge=0, nullable=True)
    lfs_event: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)
    death_cause: Series[str] = pa.Field(
        isin=["disease", "crs", "icans", "infection", "transplant", "other", "unknown"],
        nullable=True,
    )
    allo_hsct_after: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    allo_hsct_day: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    class Config:
        coerce = True
        strict = False  # the mart may carry more columns than the analyses rely on

    @pa.dataframe_check
    def severe_crs_means_grade_3(cls, df: pd.DataFrame) -> Series[bool]:
        return (
            df["severe_crs"].isna()
            | df["crs_max_grade"].isna()
            | (df["severe_crs"] == (df["crs_max_grade"] >= 3))
        )

    @pa.dataframe_check
    def lfs_only_for_complete_responders(cls, df: pd.DataFrame) -> Series[bool]:
        return df["lfs_days"].isna() | (df["cr_day30"] == True)  # noqa: E712

    @pa.dataframe_check
    def months_are_days_over_30_4375(cls, df: pd.DataFrame) -> Series[bool]:
        return df["os_days"].isna() | ((df["os_months"] - df["os_days"] / 30.4375).abs() < 1e-6)
