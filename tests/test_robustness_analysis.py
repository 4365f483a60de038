"""The robustness tables of the demo against R (survival: coxph, survdiff, tmerge; cmprsk:
cuminc, timepoints, crr), run at test time (script: tests/reference/demo_robustness.R; R
builds its own landmark cohorts and tmerge intervals from the patients, so the SQL intervals
and the Python landmark selection are checked too)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.formatting import format_number
from analysis_assets.robustness import (
    PARALLEL_FROM_PATIENTS,
    competing_risks_status,
    exposure_flags,
    sensitivity_estimates,
)
from analysis_assets.study import (
    COMPETING_CAUSES,
    COMPETING_RISKS_COMPARISONS,
    LANDMARK_DAY,
    LANDMARK_SENSITIVITY_DAYS,
    OVERALL,
    OVERALL_GROUP,
    R_PARITY,
    ROBUSTNESS_EXPOSURES,
    ROBUSTNESS_R_PARITY,
    TIME_DEPENDENT_ENDPOINTS,
)
from analysis_assets.survival import time_ticks

SCRIPT = Path(__file__).parent / "reference" / "demo_robustness.R"
TABLES = (
    "robustness_estimates",
    "robustness_sensitivity",
    "cumulative_incidence",
    "cumulative_incidence_at_ticks",
    "competing_risks_tests",
    "km_at_ticks",
    "km_estimates",
)


@pytest.fixture(scope="module")
def tables(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        out = {t: conn.execute(f"select * from analysis.{t}").df() for t in TABLES}
        for t in ("patient_outcomes", "patient_exposures", "time_to_event"):
            out[t] = conn.execute(f"select * from mart.{t}").df()
    return out


def _patients(tables) -> pd.DataFrame:
    tte = tables["time_to_event"]
    exposures = exposure_flags(tables["patient_exposures"])
    rows = []
    for endpoint in TIME_DEPENDENT_ENDPOINTS:
        d = tte[tte["paramcd"] == endpoint].merge(exposures, on="patient_key")
        for exposure in ROBUSTNESS_EXPOSURES:
            flag, onset = d[exposure], d[f"{exposure}_onset_day"]
            known = flag.notna()
            rows.append(
                pd.DataFrame(
                    {
                        "endpoint": endpoint,
                        "exposure": exposure,
                        "patient": d["patient_key"],
                        "centre": d["centre_code"],
                        "time": d["aval_days"],
                        "event": (d["cnsr"] == 0).astype(int),
                        "exposed": flag.astype(float),
                        "onset": onset - d["start_day"],
                        "onset_known": d[f"{exposure}_onset_known"].astype(int),
                    }
                )[known]
            )
    return pd.concat(rows)


def _competing(tables) -> pd.DataFrame:
    cr = competing_risks_status(tables["patient_outcomes"])
    rows = [cr[["months", "status"]].assign(comparison=OVERALL, group="g0")]
    for comparison in COMPETING_RISKS_COMPARISONS:
        labels = group_labels(cr, comparison)
        code = {g: f"g{i}" for i, g in enumerate(group_order(comparison))}
        placed = cr[labels.notna()]
        rows.append(
            placed[["months", "status"]].assign(
                comparison=comparison, group=labels[labels.notna()].map(code)
            )
        )
    return pd.concat(rows)


@pytest.fixture(scope="module")
def r_reference(tables, tmp_path_factory) -> dict:
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: run `make sysdeps`")
    folder = tmp_path_factory.mktemp("r_robustness")
    _patients(tables).to_csv(folder / "patients.csv", index=False)
    competing = _competing(tables)
    competing.to_csv(folder / "cr.csv", index=False)
    ticks = time_ticks(competing["months"].max())
    landmarks = (LANDMARK_DAY, *LANDMARK_SENSITIVITY_DAYS)
    subprocess.run(
        [
            "Rscript",
            str(SCRIPT),
            str(folder / "patients.csv"),
            str(folder / "cr.csv"),
            ",".join(str(t) for t in ticks),
            ",".join(str(d) for d in landmarks),
            str(folder / "out.json"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads((folder / "out.json").read_text())


def _close(value, reference, tolerance: float, relative: bool = False) -> bool:
    if reference is None:
        return value is None or (isinstance(value, float) and math.isnan(value))
    scale = abs(reference) if relative else 1.0
    return abs(float(value) - reference) <= tolerance * max(scale, 1e-300)


def test_every_exposure_has_the_three_methods_for_os(tables):
    e = tables["robustness_estimates"]
    os_ = e[e["endpoint"] == "OS"]
    for exposure in ROBUSTNESS_EXPOSURES:
        methods = os_[os_["exposure"] == exposure]
        assert set(methods["method"]) == {"naive", "landmark", "time_dependent"}
        assert set(methods["landmark_day"].dropna()) == {LANDMARK_DAY, *LANDMARK_SENSITIVITY_DAYS}
    lfs = e[e["endpoint"] == "LFS"]
    assert set(lfs["method"]) == {"naive", "time_dependent"}
    assert e["estimable"].all()


def test_naive_estimates_are_the_published_univariate_cox(tables, demo):
    """The naive steroid and tocilizumab rows equal analysis.cox_univariate (as published)."""
    with demo.connect() as conn:
        univariate = conn.execute("select * from analysis.cox_univariate").df()
    e = tables["robustness_estimates"]
    for exposure, term in (
        ("steroids", "received_steroids"),
        ("tocilizumab", "received_tocilizumab"),
    ):
        for endpoint in ("OS", "LFS"):
            mine = e[(e.endpoint == endpoint) & (e.exposure == exposure) & (e.method == "naive")]
            published = univariate[(univariate.endpoint == endpoint) & (univariate.term == term)]
            assert mine["hazard_ratio"].item() == pytest.approx(
                published["hazard_ratio"].item(), rel=1e-12
            )
            assert mine["n"].item() == published["n"].item()


def test_hazard_ratios_match_r_coxph(tables, r_reference):
    e = tables["robustness_estimates"]
    checked = 0
    for r in e.itertuples():
        key = f"{r.endpoint}|{r.exposure}|{r.method}"
        if r.method == "landmark":
            key += f"|{int(r.landmark_day)}"
        ref = r_reference["cox"][key]
        parity = (
            ROBUSTNESS_R_PARITY["time_dependent_hazard_ratio"]
            if r.method == "time_dependent"
            else R_PARITY["cox_hazard_ratio"]
        )
        for mine, theirs in ((r.hazard_ratio, "hr"), (r.ci_lower, "lower"), (r.ci_upper, "upper")):
            assert _close(mine, ref[theirs], parity.tolerance, relative=True), (key, theirs)
        p_tol = R_PARITY["cox_coefficients"].tolerance
        assert _close(r.p_value, ref["p"], p_tol), key
        assert (r.n, r.events) == (ref["n"], ref["events"]) or r.method == "time_dependent", key
        if r.method == "time_dependent":
            assert r.events == ref["events"], key
        if r.method == "landmark":
            assert _close(r.logrank_p_value, ref["logrank_p"], R_PARITY["logrank"].tolerance)
        checked += 1
    assert checked == len(e) > 50


def test_sensitivity_analyses_match_r_coxph(tables, r_reference):
    """Stratified by centre and leave one centre out (naive and time-dependent) equal R; the
    reported-grade rows are checked against their definition below."""
    s = tables["robustness_sensitivity"]
    checked = 0
    for r in s[s["analysis"] != "reported_grades"].itertuples():
        centre = f"|{r.left_out_centre}" if r.analysis == "leave_one_centre_out" else ""
        ref = r_reference["cox"][f"{r.analysis}{centre}|{r.endpoint}|{r.exposure}|{r.method}"]
        tolerance = R_PARITY["cox_hazard_ratio"].tolerance
        for mine, theirs in ((r.hazard_ratio, "hr"), (r.ci_lower, "lower"), (r.ci_upper, "upper")):
            assert _close(mine, ref[theirs], tolerance, relative=True), (r, theirs)
        assert _close(r.p_value, ref["p"], R_PARITY["cox_coefficients"].tolerance), r
        assert r.events == ref["events"]
        checked += 1
    centres = s["left_out_centre"][s["left_out_centre"] != ""].nunique()
    assert centres >= 4
    assert checked == 2 * len(ROBUSTNESS_EXPOSURES) * 2 * (1 + centres)


def test_the_sensitivity_fits_in_two_processes_give_the_published_table(demo, tables):
    """Registries fit the exposures in a process per CPU (PARALLEL_FROM_PATIENTS): the same
    rows, in the same order, as the refresh's table (fitted in one process at the demo's size)."""
    with demo.connect() as conn:
        intervals = conn.execute("select * from mart.exposure_intervals").df()
    in_two = sensitivity_estimates(
        tables["patient_exposures"],
        tables["time_to_event"],
        intervals,
        workers=2,
    )
    assert len(tables["patient_outcomes"]) < PARALLEL_FROM_PATIENTS
    published = tables["robustness_sensitivity"]
    pd.testing.assert_frame_equal(
        in_two, published[list(in_two.columns)], check_dtype=False, rtol=1e-12
    )


def test_reported_grade_rows_use_the_reported_astct_grades(tables):
    from analysis_assets.cox import cox_fit
    from analysis_assets.robustness import reported_grade_flags

    po = tables["patient_outcomes"]
    flags = reported_grade_flags(tables["patient_exposures"]).set_index("patient_key")
    assert list(flags.columns) == ["crs", "icans", "grade_3_plus"]
    astct = po.set_index("patient_key")["reported_grading_system"] == "astct2019"
    reported = po.set_index("patient_key")["reported_crs_grade"]
    derived = po.set_index("patient_key")["crs_max_grade"]
    assert (flags["crs"][astct] == (reported[astct] >= 1)).all()
    assert (flags["crs"][~astct].fillna(False) == (derived[~astct] >= 1)).all()
    icans = po.set_index("patient_key")["reported_icans_grade"]
    severe = (reported[astct] >= 3) | (icans[astct] >= 3)
    assert (flags["grade_3_plus"][astct] == severe).all()
    s = tables["robustness_sensitivity"]
    row = s[(s.analysis == "reported_grades") & (s.endpoint == "OS") & (s.exposure == "crs")]
    tte = tables["time_to_event"]
    os_ = tte[tte.paramcd == "OS"].set_index("patient_key")
    data = (
        pd.DataFrame(
            {"time": os_["aval_days"], "event": (os_["cnsr"] == 0).astype(int), "x": flags["crs"]}
        )
        .dropna()
        .astype(float)
    )
    assert row["hazard_ratio"].item() == pytest.approx(
        cox_fit(data, "time", "event", ["x"]).terms[0].hr
    )


def test_cumulative_incidence_at_ticks_matches_r_timepoints(tables, r_reference):
    ticks = tables["cumulative_incidence_at_ticks"]
    tolerance = ROBUSTNESS_R_PARITY["cumulative_incidence"].tolerance
    columns = {1: "cif_relapse", 2: "cif_non_relapse_mortality"}
    for (comparison, group), rows in ticks.groupby(["comparison", "group"]):
        order = (OVERALL_GROUP,) if comparison == OVERALL else group_order(comparison)
        code = f"g{order.index(group)}"
        for cause in COMPETING_CAUSES:
            reference = r_reference["cif"][f"{comparison}|{code} {cause}"]
            mine = rows.sort_values("time_months")[columns[cause]].tolist()
            assert len(mine) == len(reference)
            assert all(_close(m, ref, tolerance) for m, ref in zip(mine, reference)), (
                comparison,
                group,
                cause,
            )


def test_gray_and_fine_gray_match_r_cmprsk(tables, r_reference):
    tests = tables["competing_risks_tests"]
    causes = {v: k for k, v in COMPETING_CAUSES.items()}
    gray_tol = ROBUSTNESS_R_PARITY["gray_test"].tolerance
    fg_tol = ROBUSTNESS_R_PARITY["fine_gray_hazard_ratio"].tolerance
    for (comparison, cause), rows in tests.groupby(["comparison", "cause"]):
        gray = rows[rows["test"] == "Gray's test"].iloc[0]
        ref = r_reference["gray"][f"{comparison}|{causes[cause]}"]
        assert _close(gray["chi_square"], ref["stat"], gray_tol)
        assert _close(gray["p_value"], ref["p"], gray_tol)
        fg = rows[rows["test"] == "Fine-Gray"]
        ref = r_reference["crr"].get(f"{comparison}|{causes[cause]}")
        if ref is None:  # R's crr did not converge either
            assert not fg["estimable"].any()
            continue
        assert fg["estimable"].all()
        hrs = ref["hr"] if isinstance(ref["hr"], list) else [ref["hr"]]
        lowers = ref["lower"] if isinstance(ref["lower"], list) else [ref["lower"]]
        assert len(fg) == len(hrs)
        for mine, theirs in zip(fg["hazard_ratio"], hrs, strict=True):
            assert _close(mine, theirs, fg_tol, relative=True)
        for mine, low in zip(fg["ci_lower"], lowers, strict=True):
            assert _close(mine, low, fg_tol, relative=True)


def test_risk_table_counts_add_up(tables):
    ticks = tables["cumulative_incidence_at_ticks"]
    for _, rows in ticks.groupby(["comparison", "group"]):
        rows = rows.sort_values("time_months")
        n = rows["n_risk"].iloc[0]
        removed = (
            rows["cumulative_relapses"]
            + rows["cumulative_non_relapse_deaths"]
            + rows["cumulative_censored"]
        )
        # at risk at t = followed at least t: n minus those removed strictly before t
        assert (rows["n_risk"] <= n - removed.shift(fill_value=0)).all()
        assert (rows["n_risk"] >= n - removed).all()
        assert rows["n_risk"].is_monotonic_decreasing


# --------------------------------------------------------------------------- report, figures


def test_report_has_the_robustness_section_its_figures_and_methods(demo, tables):
    import html

    text = html.unescape((demo.output / "report.html").read_text(encoding="utf-8"))
    assert "<h3>Robustness</h3>" in text
    for stem in ("robustness_forest", "cumulative_incidence_by_toxicity"):
        assert f'id="fig-{stem}"' in text
        assert (demo.output / "figures" / f"{stem}.pdf").exists()
    assert 'id="r-parity-robustness"' in text and "cmprsk::crr" in text
    assert f"landmark analysis at day {LANDMARK_DAY}" in text
    e = tables["robustness_estimates"]
    row = e[(e.endpoint == "OS") & (e.exposure == "crs") & (e.method == "time_dependent")].iloc[0]
    hr, lower = format_number(row.hazard_ratio, 2), format_number(row.ci_lower, 2)
    assert f"time-dependent Cox HR {hr} (95% CI {lower}" in text
    assert "In summary, the study's conclusion" in text


def test_the_verdict_follows_the_p_values():
    from analysis_assets.report.robustness import verdict

    def rows(*ps):
        methods = ("naive", "landmark", "time_dependent")[: len(ps)]
        return pd.DataFrame({"method": methods, "p_value": ps})

    assert verdict(rows(0.3, 0.4, 0.5)) == (
        "no significant difference by any method: the conclusion holds",
        True,
    )
    assert verdict(rows(0.01, 0.02, 0.03))[1] is False
    text, holds = verdict(rows(0.01, 0.2, 0.3))
    assert holds and text.startswith("only the naive estimate differs")
    text, holds = verdict(rows(0.2, 0.2, 0.01))
    assert not holds and "time-dependent Cox estimate only" in text


def test_the_sentences_are_computed_from_the_tables(tables):
    from analysis_assets.report.robustness import robustness_sentences

    before = robustness_sentences(tables)
    e = tables["robustness_estimates"].copy()
    corrected = (e.endpoint == "OS") & (e.exposure == "tocilizumab") & (e.method != "naive")
    e.loc[corrected, "p_value"] = 0.5
    e.loc[
        (e.endpoint == "OS") & (e.exposure == "tocilizumab") & (e.method == "naive"), "p_value"
    ] = 0.01
    after = robustness_sentences({**tables, "robustness_estimates": e})
    line = next(x for x in after if x.startswith("OS by tocilizumab"))
    assert "only the naive estimate differs significantly" in line
    assert "p = 0.500" in line
    assert after[-1].startswith("In summary, the study's conclusion (no difference")
    assert before != after


def test_cumulative_incidence_figure_prints_the_risk_table(tables):
    import matplotlib.pyplot as plt

    from analysis_assets.figures.robustness import cumulative_incidence_figure

    ticks = tables["cumulative_incidence_at_ticks"]
    fig = cumulative_incidence_figure(
        tables["cumulative_incidence"], ticks, tables["competing_risks_tests"]
    )
    risk = next(ax for ax in fig.axes if ax.get_label() == "risk:A")
    printed = sorted(int(t.get_text()) for t in risk.texts if t.get_text().isdigit())
    expected = sorted(ticks[ticks["comparison"] == "toxicity_group"]["n_risk"].astype(int))
    assert printed == expected
    plt.close(fig)


def test_km_risk_table_is_the_number_under_the_kaplan_meier_figures(tables):
    from analysis_assets.figures import number_at_risk, time_ticks

    km, at = tables["km_estimates"], tables["km_at_ticks"]
    ticks = time_ticks(km["time_months"].max())
    assert sorted(at["time_months"].unique()) == ticks
    panels = 0
    for (endpoint, comparison, group), rows in at.groupby(["endpoint", "comparison", "group"]):
        curve = km[(km.endpoint == endpoint) & (km.comparison == comparison) & (km.group == group)]
        rows = rows.sort_values("time_months")
        n = rows["n_risk"].iloc[0]
        assert rows["n_risk"].tolist() == number_at_risk(curve, ticks, n)
        for r in rows.itertuples():
            upto = curve[curve["time_months"] <= r.time_months]
            assert r.cumulative_events == upto["n_event"].sum()
            assert r.cumulative_censored == upto["n_censor"].sum()
        panels += 1
    assert panels == km.groupby(["endpoint", "comparison", "group"]).ngroups
