"""Survival tables of the demo mart against R's survival package (run at test time: R is a
system dependency installed by `make sysdeps`; script: tests/reference/demo_survival.R)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.rank_tests import compare_continuous, kruskal_wallis, mann_whitney
from analysis_assets.study import COMPARISONS, ENDPOINTS, R_PARITY
from analysis_assets.survival_tables import endpoint_frame

SCRIPT = Path(__file__).parent / "reference" / "demo_survival.R"


@pytest.fixture(scope="module")
def analysis_tables(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        return {
            name: conn.execute(f"select * from analysis.{name}").df()
            for name in ("km_estimates", "survival_medians", "logrank_tests", "follow_up")
        }


@pytest.fixture(scope="module")
def r_reference(demo, tmp_path_factory) -> dict:
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: run `make sysdeps`")
    with demo.connect() as conn:
        mart = conn.execute("select * from mart.patient_outcomes").df()
    rows = []
    for endpoint in ENDPOINTS:
        data = endpoint_frame(mart, endpoint)
        rows.append(
            data[["months", "event"]].assign(
                endpoint=endpoint, comparison="overall", group="all patients"
            )
        )
        for comparison in COMPARISONS:
            labels = group_labels(data, comparison)
            placed = data[labels.notna()]
            rows.append(
                placed[["months", "event"]].assign(
                    endpoint=endpoint, comparison=comparison, group=labels[labels.notna()]
                )
            )
    folder = tmp_path_factory.mktemp("r")
    pd.concat(rows).to_csv(folder / "input.csv", index=False)
    subprocess.run(
        ["Rscript", str(SCRIPT), str(folder / "input.csv"), str(folder / "out.json")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads((folder / "out.json").read_text())


def test_every_comparison_has_a_logrank_test_for_os_and_lfs(analysis_tables):
    tests = analysis_tables["logrank_tests"]
    assert set(zip(tests["endpoint"], tests["comparison"])) == {
        (e, c) for e in ENDPOINTS for c in COMPARISONS
    }


def test_logrank_tests_match_r_survdiff(analysis_tables, r_reference):
    for row in analysis_tables["logrank_tests"].itertuples():
        reference = r_reference["logrank"][f"{row.endpoint}|{row.comparison}"]
        assert row.chi_square == pytest.approx(
            reference["chisq"], abs=_tol("logrank") * max(1.0, reference["chisq"])
        )
        assert row.df == reference["df"]
        assert row.p_value == _r_approx(reference["p"], "logrank")


def _tol(statistic: str) -> float:
    """The tolerance of ``statistic`` in study.R_PARITY (what the report's Methods print)."""
    return R_PARITY[statistic].tolerance


def _r_approx(reference: float, statistic: str):
    parity = R_PARITY[statistic]
    if parity.scale == "relative":
        return pytest.approx(reference, rel=parity.tolerance)
    assert parity.scale == "absolute", parity
    return pytest.approx(reference, abs=parity.tolerance)


def _same(value, reference, statistic: str) -> bool:
    if reference is None:
        return value is None or pd.isna(value)
    return value is not None and not pd.isna(value) and abs(value - reference) <= _tol(statistic)


def test_medians_and_landmarks_match_r_quantile_and_summary(analysis_tables, r_reference):
    medians = analysis_tables["survival_medians"]
    assert len(medians) == len(r_reference["medians"])
    for row in medians.itertuples():
        reference = r_reference["medians"][f"{row.endpoint}|{row.comparison}|{row.group}"]
        assert _same(row.median_months, reference["median"], "km_median"), row
        assert _same(row.median_ci_lower, reference["lower"], "km_median"), row
        assert _same(row.median_ci_upper, reference["upper"], "km_median"), row
        landmarks = dict(
            zip(
                reference["landmark_times"]
                if isinstance(reference["landmark_times"], list)
                else [reference["landmark_times"]],
                reference["landmark_surv"]
                if isinstance(reference["landmark_surv"], list)
                else [reference["landmark_surv"]],
            )
        )
        for month in (12, 24, 36):
            survival = getattr(row, f"survival_{month}m")
            assert _same(survival, landmarks.get(month), "kaplan_meier"), (row, month)


def test_median_follow_up_matches_r_reverse_kaplan_meier(analysis_tables, r_reference):
    [row] = analysis_tables["follow_up"].itertuples()
    reference = r_reference["follow_up"]
    assert _same(row.median_months, reference["median"], "follow_up")
    assert _same(row.ci_lower, reference["lower"], "follow_up")
    assert _same(row.ci_upper, reference["upper"], "follow_up")


def test_tables_are_written_as_csv_too(demo, analysis_tables):
    for name, frame in analysis_tables.items():
        written = pd.read_csv(demo.output / "tables" / f"{name}.csv")
        assert len(written) == len(frame)


TABLES_SCRIPT = Path(__file__).parent / "reference" / "demo_tables.R"


@pytest.fixture(scope="module")
def r_tables(demo, tmp_path_factory) -> dict:
    from analysis_assets.cox_tables import model_frame
    from analysis_assets.study import BASES, BIOMARKER_COMPARISONS, MULTIVARIATE, RESPONSES

    with demo.connect() as conn:
        mart = conn.execute("select * from mart.patient_outcomes").df()
    tables = []
    for response in RESPONSES:
        for basis in BASES:
            data = mart if basis == "all_infused" else mart[mart["response_evaluable"] == True]  # noqa: E712
            responded = data[response].astype("boolean").fillna(False).astype(bool)
            for comparison, spec in COMPARISONS.items():
                labels = group_labels(data, comparison)
                groups = [g for g in spec.groups if (labels == g).any()]
                matrix = [
                    [
                        int((responded & (labels == g)).sum()),
                        int((~responded & (labels == g)).sum()),
                    ]
                    for g in groups
                ]
                if (
                    len(groups) >= 2
                    and min(sum(r[0] for r in matrix), sum(r[1] for r in matrix)) > 0
                ):
                    tables.append({"key": f"{response}|{basis}|{comparison}", "matrix": matrix})
    groups = []
    for variable, comparison in BIOMARKER_COMPARISONS:
        labels, order = group_labels(mart, comparison), group_order(comparison)
        values = pd.to_numeric(mart[variable], errors="coerce")
        samples = [values[labels.notna() & values.notna() & (labels == g)].tolist() for g in order]
        samples = [s for s in samples if s]
        if len(samples) >= 2:
            groups.append({"key": f"{variable}|{comparison}", "samples": samples})
    folder = tmp_path_factory.mktemp("r_tables")
    (folder / "input.json").write_text(json.dumps({"tables": tables, "groups": groups}))
    for endpoint in ENDPOINTS:
        frame = model_frame(mart, endpoint)[["months", "event", *MULTIVARIATE]].dropna()
        frame.to_csv(folder / f"{endpoint}.csv", index=False)
    subprocess.run(
        [
            "Rscript",
            str(TABLES_SCRIPT),
            str(folder / "input.json"),
            str(folder / "OS.csv"),
            str(folder / "LFS.csv"),
            str(folder / "out.json"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads((folder / "out.json").read_text())


def test_response_rate_tests_match_r(demo, r_tables):
    with demo.connect() as conn:
        rates = conn.execute("select * from analysis.response_rates").df()
    tested = rates.dropna(subset=["p_value"]).drop_duplicates(["response", "basis", "comparison"])
    assert len(tested) == len(r_tables["tables"]) >= 20
    for row in tested.itertuples():
        reference = r_tables["tables"][f"{row.response}|{row.basis}|{row.comparison}"]
        assert row.test == reference["test"]
        assert row.p_value == _r_approx(reference["p"], "fisher")  # exact r x c included


def test_biomarker_tests_match_r(demo, r_tables):
    with demo.connect() as conn:
        tests = conn.execute("select * from analysis.biomarker_tests").df()
    tested = tests.drop_duplicates(["variable", "comparison"])
    assert len(tested) == len(r_tables["groups"]) == 10
    for row in tested.itertuples():
        reference = r_tables["groups"][f"{row.variable}|{row.comparison}"]
        statistic = "mann_whitney" if row.test == "Mann-Whitney U" else "kruskal_wallis"
        assert row.statistic == _r_approx(reference["statistic"], statistic)
        assert row.p_value == _r_approx(reference["p"], statistic)


def test_multivariate_cox_matches_r_coxph_efron(demo, r_tables):
    with demo.connect() as conn:
        cox = conn.execute("select * from analysis.cox_multivariate").df()
    r_term = {
        "bm_blasts_ge_20": "bm_blasts_ge_20",
        "received_steroids": "received_steroids",
        "received_tocilizumab": "received_tocilizumab",
        "toxicity_group[grade_3_plus]": "toxicity_groupgrade_3_plus",
        "toxicity_group[other]": "toxicity_groupother",
    }
    for endpoint in ENDPOINTS:
        reference = r_tables["cox"][endpoint]
        rows = cox[cox["endpoint"] == endpoint].set_index("term")
        assert rows["n"].iloc[0] == reference["n"] and rows["events"].iloc[0] == reference["events"]
        for i, r_name in enumerate(reference["terms"]):
            term = next(t for t, r in r_term.items() if r == r_name)
            for column, key in (
                ("hazard_ratio", "hr"),
                ("ci_lower", "lower"),
                ("ci_upper", "upper"),
            ):
                assert rows.at[term, column] == _r_approx(reference[key][i], "cox_hazard_ratio")
            assert rows.at[term, "p_value"] == _r_approx(reference["p"][i], "cox_coefficients")
        wald = rows.loc["toxicity_group (overall Wald test)"]
        assert wald["wald_chi_square"] == _r_approx(reference["wald"], "cox_wald")
        assert wald["p_value"] == _r_approx(reference["wald_p"], "cox_wald")


def test_toxicity_summary_counts_and_percentages(demo):
    from decimal import ROUND_HALF_UP, Decimal

    with demo.connect() as conn:
        summary = conn.execute("select * from analysis.toxicity_summary").df().set_index("measure")
        [(crs, graded, toci, infused)] = conn.execute(
            "select count(*) filter (where crs_max_grade >= 1), count(crs_max_grade), "
            "count(*) filter (where received_tocilizumab), count(received_tocilizumab) "
            "from mart.patient_outcomes"
        ).fetchall()
    assert (
        summary.at["CRS (any grade)", "n"] == crs
        and summary.at["CRS (any grade)", "denominator"] == graded
    )
    expected = float(Decimal(100 * crs / graded).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    assert summary.at["CRS (any grade)", "pct"] == expected
    assert (
        summary.at["tocilizumab", "n"] == toci
        and summary.at["tocilizumab", "denominator"] == infused
    )
    assert summary.at["tocilizumab", "cumulative_dose_mg_median_range"].count("(") == 1


def test_characteristics_have_every_characteristic_with_a_test_per_comparison(demo):
    from analysis_assets.labels import label
    from analysis_assets.study import TABLE1_CATEGORICAL, TABLE1_CONTINUOUS

    with demo.connect() as conn:
        table = conn.execute("select * from analysis.characteristics").df()
    characteristics = {label(c) for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL)}
    for comparison in ("toxicity_group", "crs", "icans"):
        part = table[table["comparison"] == comparison]
        assert set(part["characteristic"]) == characteristics
        tested = part.dropna(subset=["p_value"])
        assert set(tested["test"]) <= {"Mann-Whitney U", "Kruskal-Wallis", "chi-squared", "fisher"}
        assert tested["characteristic"].nunique() == len(characteristics)
        assert tested["test_note"].notna().all()
    overall_sex = table[
        (table["comparison"] == "overall") & (table["characteristic"] == label("sex"))
    ]
    assert overall_sex["n"].sum() == 93  # f + m + missing
    missing = overall_sex[overall_sex["level"] == "missing"]
    assert missing["pct"].isna().all() and (missing["denominator"] == 93).all()
    assert not table["value"].str.contains("e+", regex=False).any()


def test_cohort_flow_percentages(demo):
    with demo.connect() as conn:
        flow = conn.execute(
            "select * from analysis.cohort_flow where centre_code = 'all' order by step_order"
        ).df()
    assert flow["n"].iloc[0] == 93 and flow["pct_of_delivered"].iloc[0] == 100.0
    assert flow["pct_of_delivered"].iloc[-1] == round(100 * flow["n"].iloc[-1] / 93 + 1e-9, 1)


def test_make_demo_outputs_report_and_figures(demo):
    import re

    report = demo.output / "report.html"
    html = report.read_text(encoding="utf-8")
    assert not re.findall(r"(?:src|href)=[\"']https?://", html)
    # the header line, from the provenance the report asset built (cut-off of the study resource)
    assert "<p>Data cut-off: 2023-03-01.</p>" in html
    assert "<h3>Data completeness</h3>" in html and "were set to missing and queried" in html
    assert "The multivariate Cox model of OS used" in html
    assert html.index("Data cut-off: 2023-03-01.") < html.index("<h2>Results</h2>")
    # deliveries from the ledger with their fingerprints; the Dagster run id
    assert re.search(r"xz 2023-03-01: \d+ files, [\d,]+ rows, sha256 [0-9a-f]{64}", html)
    assert re.search(r"<td>run id</td><td>[0-9a-f-]{36}</td>", html)
    for needle in (
        "Table 2. Multivariate Cox models",
        "Table 1. Patient characteristics",
        "Number at risk" if "Number at risk" in html else "data:image/png;base64",
        "deliveries used",
        "xz 2023-03-01",
        "2023-03-01",
        "code version",
        "generated at",
    ):
        assert needle in html, needle
    figures = {p.name for p in (demo.output / "figures").iterdir()}
    for stem in (
        "cohort_flow",
        "figure1_cr_day30",
        "km_OS_crs",
        "km_LFS_toxicity_group",
        "figure4_car_copies",
        "table2_forest",
        "swimmer_toxicity_and_response",
    ):
        assert {f"{stem}.png", f"{stem}.svg"} <= figures, stem
    with demo.connect() as conn:
        [(patients,)] = conn.execute("select count(*) from mart.patient_outcomes").fetchall()
    assert f"Of {patients} infused patients" in html


def test_compare_continuous_is_mann_whitney_for_two_groups_and_kruskal_wallis_for_more():
    a, b, c = [1.0, 2.5, 3.0, float("nan")], [2.0, 4.0, 5.5, 6.0], [7.0, 8.0, 3.0]
    assert compare_continuous(a, b) == mann_whitney(a, b)
    assert compare_continuous(a, b, c) == kruskal_wallis(a, b, c)
    assert compare_continuous(a, [], b) == mann_whitney(a, b)  # empty groups are ignored
    with pytest.raises(ValueError, match="two non-empty groups"):
        compare_continuous(a, [float("nan")])
