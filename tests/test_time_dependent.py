"""Time-dependent Cox and landmark analysis against R ``survival`` (``tmerge``, ``coxph``).

Reference: ``tests/reference/robustness_reference.json`` (``robustness_reference.R``)
on R's Stanford heart transplant data ``jasa`` (transplant as the exposure, one
transplant on the last day of follow-up, two on day 0) and the demo-like synthetic cohort
(CRS onset as the exposure, one onset on the event day).  Tolerances come from
``study.ROBUSTNESS_R_PARITY`` (time-dependent Cox) and ``study.R_PARITY`` (the
existing KM, log-rank and Cox used by the landmark analysis), quoted where used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_assets.study import R_PARITY, ROBUSTNESS_R_PARITY
from analysis_assets.time_dependent import (
    SAME_DAY_SHIFT,
    counting_process,
    landmark_analysis,
    landmark_cohort,
    time_dependent_cox,
)

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "robustness_reference.json").read_text())

TD_TOL = ROBUSTNESS_R_PARITY["time_dependent_cox"].tolerance  # 1e-8 abs: coef, SE, p (~2e-10)
TD_HR_TOL = ROBUSTNESS_R_PARITY["time_dependent_hazard_ratio"].tolerance  # 1e-8 relative
KM_TOL = R_PARITY["kaplan_meier"].tolerance  # 1e-10 absolute
LOGRANK_TOL = R_PARITY["logrank"].tolerance  # 1e-10, statistic relative above 1
COX_TOL = R_PARITY["cox_coefficients"].tolerance  # 1e-6 absolute (landmark Cox via cox_fit)
COX_HR_TOL = R_PARITY["cox_hazard_ratio"].tolerance  # 1e-6 relative


def vec(value: object) -> np.ndarray:
    """A JSON value as a float array (None -> NaN; R's auto_unbox writes scalars)."""
    values = np.atleast_1d(np.array(value, dtype=object))
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _patients() -> dict[str, pd.DataFrame]:
    jasa = pd.read_csv(REF_DIR / "jasa.csv")
    demo = pd.read_csv(REF_DIR / "cr_demo.csv")
    demo_efs = pd.DataFrame(
        {
            "id": demo["id"],
            "time": demo["time"],
            "event": (demo["status"] > 0).astype(int),
            "onset": demo["crs_onset"],
            "age": demo["age"],
        }
    )
    return {"jasa": jasa, "demo_efs": demo_efs}


PATIENTS = _patients()
TD_CASES = {
    "jasa": ("jasa", []),
    "jasa_adjusted": ("jasa", ["age", "surgery"]),
    "demo_efs": ("demo_efs", ["age"]),
}
LANDMARK_CASES = {
    "demo_efs_day30": ("demo_efs", 30),
    "demo_efs_day14": ("demo_efs", 14),
    "jasa_day30": ("jasa", 30),
}


# ---------------------------------------------------------- counting-process data
@pytest.mark.parametrize("case", sorted(TD_CASES))
def test_intervals_equal_tmerge(case: str) -> None:
    """Row for row the intervals of R's tmerge(event(time, event)) + tmerge(tdc(onset)), exact."""
    data, covariates = TD_CASES[case]
    cp = counting_process(PATIENTS[data][["id", "time", "event", "onset", *covariates]])
    ref = REF["time_dependent"][case]["intervals"]
    for mine, theirs in [
        ("id", "id"),
        ("tstart", "tstart"),
        ("tstop", "tstop"),
        ("event", "death"),
        ("exposed", "exposed"),
    ]:
        assert cp[mine].to_numpy(dtype=float).tolist() == vec(ref[theirs]).tolist(), mine


def test_interval_rules_onset_same_day_day_zero_after_end_and_never() -> None:
    patients = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "time": [10.0, 10.0, 10.0, 10.0, 10.0],
            "event": [1, 1, 0, 1, 1],
            "onset": [4.0, 10.0, 0.0, 12.0, np.nan],
        }
    )
    cp = counting_process(patients)
    rows = [tuple(r) for r in cp[["id", "tstart", "tstop", "event", "exposed"]].to_numpy()]
    assert rows == [
        (1, 0, 4, 0, 0),
        (1, 4, 10, 1, 1),
        (2, 0, 10 - SAME_DAY_SHIFT, 0, 0),  # onset on the event day: exposed at the event
        (2, 10 - SAME_DAY_SHIFT, 10, 1, 1),
        (3, 0, 10, 0, 1),  # onset on day 0: exposed throughout
        (4, 0, 10, 1, 0),  # onset after the end of follow-up: never exposed
        (5, 0, 10, 1, 0),
    ]
    # jasa has one transplant on the last day of follow-up and two on day 0
    jasa = PATIENTS["jasa"]
    assert ((jasa["onset"] == jasa["time"]).sum(), (jasa["onset"] == 0).sum()) == (1, 2)


def test_intervals_refuse_zero_follow_up_and_duplicate_patients() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        counting_process(pd.DataFrame({"id": [1], "time": [0.0], "event": [1], "onset": [0.0]}))
    with pytest.raises(ValueError, match="one row per patient"):
        counting_process(
            pd.DataFrame({"id": [1, 1], "time": [3.0, 4.0], "event": [1, 0], "onset": [1, 2]})
        )


# ----------------------------------------------------------- time-dependent Cox
@pytest.mark.parametrize("case", sorted(TD_CASES))
def test_time_dependent_cox_matches_coxph(case: str) -> None:
    """coef, SE, Wald p within TD_TOL absolute; HR and CI within TD_HR_TOL relative."""
    data, covariates = TD_CASES[case]
    cp = counting_process(PATIENTS[data])
    res = time_dependent_cox(cp, ["exposed", *covariates])
    ref = REF["time_dependent"][case]["cox"]
    assert res.estimable
    assert res.events == ref["events"] and res.n == PATIENTS[data]["id"].nunique()
    tab = res.table()
    assert tab["term"].tolist() == np.atleast_1d(ref["terms"]).tolist()
    for col in ("coef", "se", "p"):
        diff = np.abs(tab[col].to_numpy() - vec(ref[col]))
        assert np.all(diff <= TD_TOL), (col, diff.max())
    for col in ("hr", "hr_lower", "hr_upper"):
        rel = np.abs(tab[col].to_numpy() / vec(ref[col]) - 1)
        assert np.all(rel <= TD_HR_TOL), (col, rel.max())
    assert abs(res.loglik - ref["loglik"]) <= TD_TOL * abs(ref["loglik"])


def test_time_dependent_cox_without_events_or_exposure_is_not_estimable() -> None:
    cp = counting_process(PATIENTS["jasa"].assign(event=0))
    res = time_dependent_cox(cp)
    assert not res.estimable and res.reason == "no events"
    cp = counting_process(PATIENTS["jasa"].assign(onset=np.nan))
    res = time_dependent_cox(cp)
    assert not res.estimable and res.reason == "exposed is constant"


# --------------------------------------------------------------------- landmark
@pytest.mark.parametrize("case", sorted(LANDMARK_CASES))
def test_landmark_cohort_and_analysis_match_r(case: str) -> None:
    """Cohort (ids, time from L, exposure by L) exact; KM within KM_TOL, log-rank within
    LOGRANK_TOL, Cox within COX_TOL / COX_HR_TOL (the existing estimators' tolerances)."""
    data, landmark = LANDMARK_CASES[case]
    ref = REF["landmark"][case]
    cohort = landmark_cohort(PATIENTS[data], landmark)
    assert cohort["id"].tolist() == vec(ref["id"]).astype(int).tolist()
    assert cohort["time"].to_numpy(dtype=float).tolist() == vec(ref["time"]).tolist()
    assert cohort["exposed"].tolist() == vec(ref["exposed"]).astype(int).tolist()

    res = landmark_analysis(PATIENTS[data], landmark)
    assert (res.n, res.n_exposed) == (len(cohort), int(cohort["exposed"].sum()))
    for exposed, key in ((1, "km_exposed"), (0, "km_unexposed")):
        km, r = res.km[exposed], ref[key]
        assert km["time"].tolist() == vec(r["time"]).tolist()
        for col in ("survival", "ci_lower", "ci_upper"):
            a, b = km[col].to_numpy(dtype=float), vec(r[col])
            assert np.array_equal(np.isnan(a), np.isnan(b)), col
            assert np.nanmax(np.abs(a - b)) <= KM_TOL, col
    chisq = ref["logrank"]["chisq"]
    assert abs(res.logrank.chisq - chisq) <= LOGRANK_TOL * max(1.0, chisq)
    assert abs(res.logrank.p - ref["logrank"]["p"]) <= LOGRANK_TOL
    term, cox = res.cox.terms[0], ref["cox"]
    for col in ("coef", "se", "p"):
        assert abs(getattr(term, col) - cox[col]) <= COX_TOL, col
    for col in ("hr", "hr_lower", "hr_upper"):
        assert abs(getattr(term, col) / cox[col] - 1) <= COX_HR_TOL, col


def test_landmark_excludes_events_up_to_the_landmark_and_later_onsets() -> None:
    patients = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "time": [30.0, 31.0, 60.0, 90.0],
            "event": [1, 1, 0, 1],
            "onset": [5.0, 30.0, 31.0, np.nan],
        }
    )
    cohort = landmark_cohort(patients, 30)
    assert cohort["id"].tolist() == [2, 3, 4]  # died on day 30: not alive beyond the landmark
    assert cohort["exposed"].tolist() == [1, 0, 0]  # onset on day 30 counts, day 31 does not
    assert cohort["time"].tolist() == [1.0, 30.0, 60.0]
