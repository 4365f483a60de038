"""The statistical core against R (survival 3.5, stats) reference values.

The reference is ``tests/reference/r_reference.json``, produced by
``tests/reference/make_reference.R`` from the committed CSVs (lifelines data
sets exported by ``export_datasets.py``) and hand-made tables.  These tests
read the JSON only; ``test_reference_is_reproducible`` re-runs R (skipped
without ``Rscript``).  Each test states its tolerance.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from analysis_assets.cox import schoenfeld_residuals
from analysis_assets.statistics import (
    chisq_test,
    compare_categorical,
    cox_fit,
    fisher_test,
    km_median,
    km_survival_at,
    km_table,
    kruskal_wallis,
    logrank_test,
    mann_whitney,
    median_followup,
    percent,
    ph_test,
    round_half_up,
)
from analysis_assets.study import R_PARITY

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "r_reference.json").read_text())

#: the tolerances come from the study's R parity registry, which the report's Methods print
KM_TOL = R_PARITY["kaplan_meier"].tolerance  # KM estimate and CI limits, absolute
MEDIAN_TOL = R_PARITY["km_median"].tolerance  # median and CI limits, absolute
FOLLOW_UP_TOL = R_PARITY["follow_up"].tolerance  # reverse KM median and CI, absolute
LOGRANK_TOL = R_PARITY["logrank"].tolerance  # chi-square (relative above 1) and p
CHISQ_TOL = R_PARITY["chi_squared"].tolerance  # statistic, p, min expected, absolute
FISHER_TOL = R_PARITY["fisher"].tolerance  # exact p, absolute
OR_TOL = R_PARITY["fisher_odds_ratio"].tolerance  # on R's (0, 1) uniroot scale
MWU_TOL = R_PARITY["mann_whitney"].tolerance  # W and p, absolute
KW_TOL = R_PARITY["kruskal_wallis"].tolerance  # H and p, absolute
COX_COEF_TOL = R_PARITY["cox_coefficients"].tolerance  # coefficients, SEs, p (achieved ~1e-11)
COX_HR_TOL = R_PARITY["cox_hazard_ratio"].tolerance  # HRs and CI limits, relative
WALD_TOL = R_PARITY["cox_wald"].tolerance  # multi-df Wald statistic and p, absolute
PH_TOL = R_PARITY["ph_test"].tolerance  # PH test vs the pre-3.0 cox.zph formula (~1e-10)
MC_SE_BOUND = R_PARITY["fisher_monte_carlo"].tolerance  # within k MC SEs of R's exact p


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"{name}.csv")


def arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def close_nan(a: np.ndarray, b: np.ndarray, tol: float) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    m = ~np.isnan(a)
    assert np.all(np.abs(a[m] - b[m]) <= tol), np.max(np.abs(a[m] - b[m]))


def none_or_close(a: float | None, b: float | None, tol: float) -> None:
    assert (a is None) == (b is None), (a, b)
    if a is not None:
        assert abs(a - b) <= tol, (a, b)


KM_CASES = {
    "waltons_control": lambda: (lambda d: (d["T"], d["E"]))(
        data("waltons").query("group == 'control'")
    ),
    "waltons_mir137": lambda: (lambda d: (d["T"], d["E"]))(
        data("waltons").query("group == 'miR-137'")
    ),
    "lung": lambda: (data("lung")["time"], data("lung")["status"]),
    "larynx": lambda: (data("larynx")["time"], data("larynx")["death"]),
    "plateau": lambda: (data("plateau")["time"], data("plateau")["status"]),
}


# ------------------------------------------------------------------ Kaplan–Meier
@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_km_table_matches_survfit_loglog(case: str) -> None:
    """Counts exact, S(t) and log-log CI within KM_TOL absolute, NA pattern identical."""
    t, e = KM_CASES[case]()
    tab = km_table(t, e)
    ref = REF["km"][case]["table"]
    for col in ("time", "n_risk", "n_event", "n_censor"):
        assert tab[col].tolist() == ref[col], col
    for col in ("survival", "ci_lower", "ci_upper"):
        close_nan(tab[col].to_numpy(), arr(ref[col]), KM_TOL)


@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_km_survival_at_landmarks(case: str) -> None:
    """Within KM_TOL; times after the last observation are NaN (R drops them)."""
    t, e = KM_CASES[case]()
    ref = REF["km"][case]["at"]
    wanted = {
        "waltons_control": [12, 24, 36],
        "waltons_mir137": [12, 24, 36],
        "lung": [180, 365, 730, 1200],
        "larynx": [1, 2, 5],
        "plateau": [3, 6, 12, 36],
    }[case]
    at = km_survival_at(km_table(t, e), wanted)
    kept = at[at["time"].isin(ref["time"])]
    assert kept["time"].tolist() == ref["time"]
    assert at.loc[~at["time"].isin(ref["time"]), "survival"].isna().all()
    for col in ("survival", "ci_lower", "ci_upper"):
        close_nan(kept[col].to_numpy(), arr(ref[col]), KM_TOL)


@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_km_median_and_ci_by_r_rules(case: str) -> None:
    """Median and CI limits equal R ``quantile(fit, 0.5)`` (MEDIAN_TOL); NR = None."""
    t, e = KM_CASES[case]()
    med = km_median(km_table(t, e))
    ref = REF["km"][case]["median"]
    none_or_close(med.median, ref["median"], MEDIAN_TOL)
    none_or_close(med.ci_lower, ref["lower"], MEDIAN_TOL)
    none_or_close(med.ci_upper, ref["upper"], MEDIAN_TOL)


def test_median_on_exact_plateau_is_midpoint() -> None:
    """S = 0.5 on [5, 8): R gives (5 + 8) / 2 = 6.5, lifelines the first time (5)."""
    d = data("plateau")
    med = km_median(km_table(d["time"], d["status"]))
    assert med.median == 6.5 == REF["km"]["plateau"]["median"]["median"]
    assert med.ci_upper is None  # upper CI curve never reaches 0.5: not reached
    assert KaplanMeierFitter().fit(d["time"], d["status"]).median_survival_time_ == 5.0


def test_median_on_final_plateau() -> None:
    """Curve ends censored at exactly S = 0.5: R (findq's last-point rule) gives the
    midpoint to the last time, (2 + 4) / 2 = 3; checked by hand with
    quantile(survfit(Surv(c(1,2,3,4), c(1,1,0,0)) ~ 1, conf.type = "log-log"), 0.5)
    -> 3, lower 1, upper NA."""
    med = km_median(km_table([1, 2, 3, 4], [1, 1, 0, 0]))
    assert (med.median, med.ci_lower, med.ci_upper) == (3.0, 1.0, None)


def test_median_not_reached() -> None:
    med = km_median(km_table([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 0, 0]))
    assert med.median is None and med.ci_upper is None


@pytest.mark.parametrize(
    "case,time_col,event_col",
    [("lung", "time", "status"), ("rossi", "week", "arrest"), ("larynx", "time", "death")],
)
def test_median_followup_reverse_km(case: str, time_col: str, event_col: str) -> None:
    """Reverse KM median follow-up and CI = R ``survfit(Surv(time, status == 0) ~ 1)``
    within FOLLOW_UP_TOL."""
    d = data(case)
    med = median_followup(d[time_col], d[event_col])
    ref = REF["reverse_km"][case]
    none_or_close(med.median, ref["median"], FOLLOW_UP_TOL)
    none_or_close(med.ci_lower, ref["lower"], FOLLOW_UP_TOL)
    none_or_close(med.ci_upper, ref["upper"], FOLLOW_UP_TOL)


# ---------------------------------------------------------------------- log-rank
def _logrank_inputs(case: str) -> tuple:
    if case == "waltons":
        d = data("waltons")
        return d["T"], d["E"], d["group"]
    if case == "larynx_stage":
        d = data("larynx")
        return d["time"], d["death"], d["stage"]
    if case == "lung_ecog_grp":
        d = data("lung")
        return d["time"], d["status"], d["ecog_grp"]
    d = data("rossi")
    return d["week"], d["arrest"], d["prio"] > 2


@pytest.mark.parametrize("case", ["waltons", "larynx_stage", "lung_ecog_grp", "rossi_prio_gt2"])
def test_logrank_matches_survdiff(case: str) -> None:
    """Chi-square and p within LOGRANK_TOL (chi-square relative above 1); df exact."""
    res = logrank_test(*_logrank_inputs(case))
    ref = REF["logrank"][case]
    assert res.df == ref["df"]
    assert abs(res.chisq - ref["chisq"]) <= LOGRANK_TOL * max(1.0, ref["chisq"])
    assert abs(res.p - ref["p"]) <= LOGRANK_TOL


# --------------------------------------------------------------------------- Cox
COX_CASES = {
    "larynx": lambda: cox_fit(data("larynx"), "time", "death", ["age", "stage"], {"stage": "I"}),
    "rossi": lambda: cox_fit(
        data("rossi"), "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    ),
    "lung": lambda: cox_fit(
        data("lung"), "time", "status", ["age", "sex", "ecog_grp"], {"ecog_grp": "0"}
    ),
}


@pytest.fixture(scope="module")
def cox_results() -> dict:
    return {k: f() for k, f in COX_CASES.items()}


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_cox_matches_coxph_efron(case: str, cox_results: dict) -> None:
    """coef/SE/p within COX_COEF_TOL, HR and CI COX_HR_TOL relative (achieved ~1e-11)."""
    res = cox_results[case]
    ref = REF["cox"][case]
    assert res.estimable and res.n == ref["n"] and res.events == ref["events"]
    tab = res.table()
    assert [t.replace("[", "").replace("]", "") for t in tab["term"]] == ref["terms"]
    np.testing.assert_allclose(tab["coef"], ref["coef"], rtol=0, atol=COX_COEF_TOL)
    np.testing.assert_allclose(tab["se"], ref["se"], rtol=0, atol=COX_COEF_TOL)
    for col in ("hr", "hr_lower", "hr_upper"):
        np.testing.assert_allclose(tab[col], ref[col], rtol=COX_HR_TOL, atol=0)
    np.testing.assert_allclose(tab["p"], ref["p"], rtol=0, atol=COX_COEF_TOL)
    assert abs(res.loglik - ref["loglik"]) <= 1e-8


@pytest.mark.parametrize("case,term,df", [("larynx", "stage", 3), ("lung", "ecog_grp", 2)])
def test_cox_multi_df_wald(case: str, term: str, df: int, cox_results: dict) -> None:
    """W = b' V^-1 b over the term's dummies: statistic and p within WALD_TOL absolute."""
    w = cox_results[case].wald[term]
    ref = REF["cox"][case]["wald"][term]
    assert w.df == ref["df"] == df
    assert abs(w.stat - ref["stat"]) <= WALD_TOL
    assert abs(w.p - ref["p"]) <= WALD_TOL


def _toy(n: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "t": rng.exponential(10, n).round(1) + 0.1,
            "e": rng.integers(0, 2, n),
            "x": rng.normal(size=n),
            "g": rng.choice(["a", "b", "c"], n),
        }
    )


def test_cox_not_estimable_no_events() -> None:
    d = _toy().assign(e=0)
    res = cox_fit(d, "t", "e", ["x"])
    assert not res.estimable and res.reason == "no events" and res.terms == [] and res.events == 0


def test_cox_not_estimable_separation() -> None:
    d = _toy()
    d.loc[d["g"] == "c", "e"] = 0  # level c has no events: HR 0, monotone likelihood
    res = cox_fit(d, "t", "e", ["x", "g"], {"g": "a"})
    assert not res.estimable and "separation" in res.reason and res.wald == {}


def test_cox_not_estimable_continuous_separation() -> None:
    # every event has the highest covariate in its risk set: coefficient -> +inf
    d = pd.DataFrame(
        {"t": np.arange(1.0, 21.0), "e": [1] * 10 + [0] * 10, "x": np.arange(20.0, 0.0, -1.0)}
    )
    res = cox_fit(d, "t", "e", ["x"])
    assert not res.estimable and "separation" in res.reason


def test_cox_not_estimable_constant_and_collinear() -> None:
    d = _toy().assign(k=1.0)
    assert "constant" in cox_fit(d, "t", "e", ["x", "k"]).reason
    d = _toy().assign(x2=lambda f: 2 * f["x"] + 1)
    assert "singular" in cox_fit(d, "t", "e", ["x", "x2"]).reason


def test_cox_low_variance_among_censored_is_still_estimable() -> None:
    """lifelines warns (low variance given the event) but the model is fine: not flagged."""
    rng = np.random.default_rng(3)
    d = pd.DataFrame(
        {"t": rng.exponential(10, 60) + 0.1, "e": rng.integers(0, 2, 60), "x": rng.normal(size=60)}
    )
    d["b"] = 0.0
    d.loc[(d["e"] == 1) & (rng.random(60) < 0.4), "b"] = 1.0  # every censored subject has b = 0
    res = cox_fit(d, "t", "e", ["x", "b"])
    assert res.estimable and res.reason is None and len(res.terms) == 2


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_schoenfeld_residuals_equal_lifelines_with_tied_deaths(case: str, cox_results: dict):
    """The set-wise residuals (Efron's mean over tied deaths) equal lifelines' row by row,
    which the PH test used to call (quadratic in the events: 80 s for 100,000 patients)."""
    res = cox_results[case]
    duration, event = res.data.columns[:2]
    cph = CoxPHFitter().fit(res.data, duration_col=duration, event_col=event)
    terms = list(cph.params_.index)
    dead = cph.event_observed.to_numpy().astype(bool)
    ours = schoenfeld_residuals(
        cph.durations.to_numpy(),
        dead,
        res.data.loc[cph.durations.index, terms].to_numpy(),
        cph.params_.to_numpy(),
    )
    theirs = cph.compute_residuals(res.data, kind="schoenfeld").loc[cph.durations.index[dead]]
    assert pd.Series(cph.durations[dead]).duplicated().any()  # tied death times present
    np.testing.assert_allclose(ours, theirs[terms].to_numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_ph_test_matches_pre3_cox_zph(case: str, cox_results: dict) -> None:
    """Per-term and global statistics equal the survival < 3.0 cox.zph(transform="km")
    formula evaluated in R (residuals(fit, "schoenfeld"), fit$var), PH_TOL absolute.

    survival 3.x ``cox.zph`` is a different test (exact score test); its values
    are in the JSON (``zph_new``) for the record and differ materially, so they
    are not what this function computes.
    """
    ph = ph_test(cox_results[case])
    ref = REF["cox"][case]["zph_old"]
    np.testing.assert_allclose(ph.chisq, ref["chisq"], rtol=0, atol=PH_TOL)
    np.testing.assert_allclose(ph.p, ref["p"], rtol=0, atol=PH_TOL)
    assert abs(ph.global_chisq - ref["global_chisq"]) <= PH_TOL and ph.global_df == ref["global_df"]
    assert abs(ph.global_p - ref["global_p"]) <= PH_TOL
    new = REF["cox"][case]["zph_new"]
    assert (
        np.max(np.abs(np.array(ph.chisq) - np.array(new["chisq"]))) > 1e-3
    )  # documented difference


# ------------------------------------------------------------ continuous groups
def test_mann_whitney_matches_wilcox_test() -> None:
    """W and p within MWU_TOL (wilcox.test(exact = FALSE, correct = TRUE), ties present)."""
    ref = REF["groups"]["mwu"]
    res = mann_whitney(ref["x"], ref["y"])
    assert abs(res.stat - ref["W"]) <= MWU_TOL and abs(res.p - ref["p"]) <= MWU_TOL


def test_kruskal_wallis_matches_kruskal_test() -> None:
    """Tie-corrected H and p within KW_TOL; df exact."""
    ref = REF["groups"]["kw"]
    res = kruskal_wallis(*ref["groups"].values())
    assert res.df == ref["df"]
    assert abs(res.stat - ref["stat"]) <= KW_TOL and abs(res.p - ref["p"]) <= KW_TOL


# ------------------------------------------------------------------ contingency
TABLES = sorted(REF["contingency"])


@pytest.mark.parametrize("case", TABLES)
def test_chisq_matches_chisq_test_no_yates(case: str) -> None:
    """Statistic, p and min expected within CHISQ_TOL; df exact."""
    ref = REF["contingency"][case]
    res = chisq_test(ref["table"])
    assert res.df == ref["chisq_df"]
    assert abs(res.stat - ref["chisq"]) <= CHISQ_TOL and abs(res.p - ref["chisq_p"]) <= CHISQ_TOL
    assert abs(res.min_expected - ref["min_expected"]) <= CHISQ_TOL


@pytest.mark.parametrize("case", [c for c in TABLES if c != "t4x4_job"])
def test_fisher_exact_matches_fisher_test(case: str) -> None:
    """Exact p within FISHER_TOL (2x2 and Freeman–Halton r x c, incl. a 3x3 with 1.15 M tables)."""
    ref = REF["contingency"][case]
    res = fisher_test(ref["table"])
    assert res.method == "exact"
    assert abs(res.p - ref["fisher_p"]) <= FISHER_TOL


@pytest.mark.parametrize("case", [c for c in TABLES if c.startswith("t2x2")])
def test_fisher_2x2_conditional_odds_ratio(case: str) -> None:
    """Conditional MLE OR and exact CI.  R finds them with ``uniroot`` at its default
    tolerance (~1.2e-4 absolute on the (0, 1) scale R searches: the value if < 1,
    its reciprocal if > 1), so OR_TOL is about twice that; scipy is more precise."""
    ref = REF["contingency"][case]
    res = fisher_test(ref["table"])

    def scale(v: float) -> float:
        return v if v <= 1 else 1 / v

    for ours, theirs in (
        (res.odds_ratio, ref["fisher_or"]),
        (res.or_lower, ref["fisher_or_lower"]),
        (res.or_upper, ref["fisher_or_upper"]),
    ):
        assert abs(scale(ours) - scale(theirs)) <= OR_TOL, (ours, theirs)


def test_fisher_rxc_monte_carlo_fallback_job_table() -> None:
    """4x4 job table (~9e7 tables) exceeds the exact budget: seeded Monte Carlo,
    within 3 MC standard errors of R's exact p, reproducible with the seed."""
    ref = REF["contingency"]["t4x4_job"]
    res = fisher_test(ref["table"])
    assert res.method == "monte-carlo" and res.n_resamples == 100_000 and res.mc_se > 0
    assert abs(res.p - ref["fisher_p"]) <= MC_SE_BOUND * res.mc_se
    assert fisher_test(ref["table"]).p == res.p


def test_fisher_forced_monte_carlo_small_table() -> None:
    """A table that could be exact, forced to Monte Carlo: within 3 MC SE of R."""
    ref = REF["contingency"]["t3x3"]
    res = fisher_test(ref["table"], max_tables=100, n_resamples=50_000, seed=7)
    assert res.method == "monte-carlo" and res.seed == 7
    assert abs(res.p - ref["fisher_p"]) <= MC_SE_BOUND * res.mc_se


def test_fisher_large_table_never_hangs() -> None:
    table = [
        [30, 25, 20, 15, 10],
        [10, 15, 20, 25, 30],
        [20, 20, 20, 20, 20],
        [5, 10, 15, 20, 25],
        [25, 20, 15, 10, 5],
    ]
    start = time.perf_counter()
    res = fisher_test(table, n_resamples=20_000)
    assert res.method == "monte-carlo" and 0 < res.p <= 1
    assert time.perf_counter() - start < 10


def test_chooser_study_rule() -> None:
    big = REF["contingency"]["t2x2_large"]  # all expected >= 5
    res = compare_categorical(big["table"])
    assert (
        res.test == "chi-squared"
        and abs(res.p - big["chisq_p"]) <= CHISQ_TOL
        and res.fisher is None
    )
    small = REF["contingency"]["t3x3"]  # expected < 5
    res = compare_categorical(small["table"])
    assert (
        res.test == "fisher"
        and res.fisher.method == "exact"
        and abs(res.p - small["fisher_p"]) <= FISHER_TOL
    )


def test_empty_rows_dropped_and_bad_tables_rejected() -> None:
    assert chisq_test([[3, 4], [0, 0], [5, 1]]).df == 1
    with pytest.raises(ValueError):
        fisher_test([[1, 2]])
    with pytest.raises(ValueError):
        chisq_test([[1, -2], [3, 4]])


# -------------------------------------------------------------------- rounding
def test_percent_half_up() -> None:
    assert round(0.25, 1) == 0.2  # Python: banker's rounding / binary representation
    assert round_half_up(0.25, 1) == 0.3 and round_half_up(2.675, 2) == 2.68
    assert round_half_up(-0.25, 1) == -0.3  # halves away from zero
    assert percent(1, 8) == 12.5 and percent(1, 16) == 6.3 and percent(1, 40) == 2.5
    assert percent(1, 3) == 33.3 and percent(2, 3) == 66.7 and percent(0, 5) == 0.0
    assert percent(1, 0) is None
    assert round_half_up(Fraction(1, 16) * 100, 1) == 6.3


# ---------------------------------------------------------- reproducible reference
def _close_json(a: object, b: object, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _close_json(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close_json(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert (
            a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
        ), path
    else:
        assert a == b, path


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")
def test_reference_is_reproducible(tmp_path: Path) -> None:
    """Re-running make_reference.R gives the committed JSON (numbers within 1e-12 relative)."""
    out = tmp_path / "r_reference.json"
    subprocess.run(
        ["Rscript", str(REF_DIR / "make_reference.R"), str(out)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    _close_json(json.loads(out.read_text()), REF)


def test_cox_without_the_reference_level_is_not_estimable():
    import pandas as pd

    from analysis_assets.cox import cox_fit

    data = pd.DataFrame(
        {
            "t": [1.0, 2.0, 3.0, 4.0],
            "e": [1, 0, 1, 1],
            "g": ["other", "other", "grade_3_plus", "grade_3_plus"],
        }
    )
    result = cox_fit(data, "t", "e", ["g"], categorical={"g": "none"})
    assert not result.estimable and "reference level 'none'" in result.reason
    assert result.n == 4 and result.events == 3
