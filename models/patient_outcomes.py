"""Contract of ``mart.patient_outcomes``: what the analyses may rely on.

Types, ranges and code lists of the columns the statistics read, checked by the blocking
Dagster asset check on the mart and by the tests. Windows come from the study parameters
(``cartwh.parameters``, declared once as dbt vars). Invariants between the columns of one row
(severe_crs = crs_max_grade >= 3, LFS only for complete responders, months = days / 30.4375)
are dbt tests beside the mart (``dbt_project/models/marts/patient_outcomes.yml``); the
clinical derivations themselves are tested by dbt unit tests. The code lists here and the
``accepted_values`` of the mart's yml are kept equal by ``tests/test_contracts.py``. Which
kind of rule goes where: ``docs/quality-checks.md``.

Survival times are never negative (``os_days``, ``lfs_days`` >= 0): an event dated before its
clock starts (a death before the index infusion; a relapse or death before the CR date) is a
plausibility finding queried back to the centre, and dbt leaves that endpoint empty with its
reason (``int_endpoint_exclusions``, counted in ``mart.cohort_flow``). A negative time that
reaches the mart is therefore a bug, and this contract, blocking, stops the analyses.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cartwh.parameters import study_parameters
from models.extract_format import ENTITIES

_STUDY = study_parameters()
GRADE = {"ge": 0, "le": 5, "nullable": True}
STUDY_DAY = {"ge": 0, "nullable": True}


def _day(**kw):
    return pa.Field(**{**STUDY_DAY, **kw})


def _delivered_code(entity: str, column: str):
    """A code column delivered by the centres: its codes are the extract format's."""
    return pa.Field(isin=list(ENTITIES[entity].column(column).codes), nullable=True)


class PatientOutcomes(pa.DataFrameModel):
    patient_key: Series[str] = pa.Field(str_matches=r"^[0-9a-f]{64}$", unique=True)
    centre_code: Series[str] = pa.Field(str_matches=r"^[a-z0-9]{2,16}$")
    infusion_year: Series[pd.Int64Dtype] = pa.Field(ge=2000, le=2100)
    age_at_infusion: Series[pd.Int64Dtype] = pa.Field(ge=0, le=120, nullable=True)
    sex: Series[str] = _delivered_code("patients", "sex")
    ph_status: Series[str] = _delivered_code("patients", "ph_status")
    prior_therapy_lines: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    relapse_count: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    disease_status: Series[str] = _delivered_code("patients", "disease_status")
    prior_hsct: Series[str] = _delivered_code("patients", "prior_hsct")
    bm_blasts_pct_pre: Series[float] = pa.Field(ge=0, le=100, nullable=True)
    bm_blasts_ge_20: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    extramedullary_pre: Series[str] = _delivered_code("patients", "extramedullary_pre")
    cell_dose_per_kg: Series[float] = pa.Field(gt=0, nullable=True)
    lymphodepletion: Series[str] = _delivered_code("infusions", "lymphodepletion")
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
    cr_day: Series[pd.Int64Dtype] = pa.Field(
        ge=_STUDY.response_window_first_day,
        le=_STUDY.response_window_last_day,
        nullable=True,
    )
    os_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    os_months: Series[float] = pa.Field(ge=0, nullable=True)
    os_event: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)
    lfs_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    lfs_months: Series[float] = pa.Field(ge=0, nullable=True)
    lfs_event: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)
    death_cause: Series[str] = _delivered_code("follow_up_events", "death_cause")
    allo_hsct_after: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    allo_hsct_day: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    class Config:
        coerce = True
        strict = False  # the mart may carry more columns than the analyses rely on
