"""Survival tables of the demo mart against R's survival package (run at test time: R is a
system dependency installed by `make sysdeps`; script: tests/reference/demo_survival.R)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis_assets.comparisons import COMPARISONS, group_labels
from analysis_assets.survival_tables import ENDPOINTS, endpoint_frame

SCRIPT = Path(__file__).parent / "reference" / "demo_survival.R"
TOLERANCE = 1e-8  # chi-square, p, medians, CIs and landmark survival (absolute)


@pytest.fixture(scope="module")
def analysis_tables(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        return {name: conn.execute(f"select * from analysis.{name}").df()
                for name in ("km_estimates", "survival_medians", "logrank_tests", "follow_up")}


@pytest.fixture(scope="module")
def r_reference(demo, tmp_path_factory) -> dict:
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: run `make sysdeps`")
    with demo.connect() as conn:
        mart = conn.execute("select * from mart.patient_outcomes").df()
    rows = []
    for endpoint in ENDPOINTS:
        data = endpoint_frame(mart, endpoint)
        rows.append(data[["months", "event"]].assign(endpoint=endpoint, comparison="overall",
                                                     group="all patients"))
        for comparison in COMPARISONS:
            labels = group_labels(data, comparison)
            placed = data[labels.notna()]
            rows.append(placed[["months", "event"]].assign(
                endpoint=endpoint, comparison=comparison, group=labels[labels.notna()]))
    folder = tmp_path_factory.mktemp("r")
    pd.concat(rows).to_csv(folder / "input.csv", index=False)
    subprocess.run(["Rscript", str(SCRIPT), str(folder / "input.csv"), str(folder / "out.json")],
                   check=True, capture_output=True, timeout=300)
    return json.loads((folder / "out.json").read_text())


def test_every_comparison_has_a_logrank_test_for_os_and_lfs(analysis_tables):
    tests = analysis_tables["logrank_tests"]
    assert set(zip(tests["endpoint"], tests["comparison"])) == {
        (e, c) for e in ENDPOINTS for c in COMPARISONS}


def test_logrank_tests_match_r_survdiff(analysis_tables, r_reference):
    for row in analysis_tables["logrank_tests"].itertuples():
        reference = r_reference["logrank"][f"{row.endpoint}|{row.comparison}"]
        assert row.chi_square == pytest.approx(reference["chisq"], abs=TOLERANCE)
        assert row.df == reference["df"]
        assert row.p_value == pytest.approx(reference["p"], abs=TOLERANCE)


def _same(value, reference) -> bool:
    if reference is None:
        return value is None or pd.isna(value)
    return value is not None and not pd.isna(value) and abs(value - reference) <= TOLERANCE


def test_medians_and_landmarks_match_r_quantile_and_summary(analysis_tables, r_reference):
    medians = analysis_tables["survival_medians"]
    assert len(medians) == len(r_reference["medians"])
    for row in medians.itertuples():
        reference = r_reference["medians"][f"{row.endpoint}|{row.comparison}|{row.group}"]
        assert _same(row.median_months, reference["median"]), row
        assert _same(row.median_ci_lower, reference["lower"]), row
        assert _same(row.median_ci_upper, reference["upper"]), row
        landmarks = dict(zip(reference["landmark_times"] if isinstance(reference["landmark_times"], list)
                             else [reference["landmark_times"]],
                             reference["landmark_surv"] if isinstance(reference["landmark_surv"], list)
                             else [reference["landmark_surv"]]))
        for month in (12, 24, 36):
            assert _same(getattr(row, f"survival_{month}m"), landmarks.get(month)), (row, month)


def test_median_follow_up_matches_r_reverse_kaplan_meier(analysis_tables, r_reference):
    [row] = analysis_tables["follow_up"].itertuples()
    reference = r_reference["follow_up"]
    assert _same(row.median_months, reference["median"])
    assert _same(row.ci_lower, reference["lower"]) and _same(row.ci_upper, reference["upper"])


def test_tables_are_written_as_csv_too(demo, analysis_tables):
    for name, frame in analysis_tables.items():
        written = pd.read_csv(demo.output / "tables" / f"{name}.csv")
        assert len(written) == len(frame)
