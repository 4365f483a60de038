"""CR and survival per centre (analysis.centre_outcomes) on the session demo: the medians
equal R's ``quantile(survfit(Surv(months, event) ~ centre, conf.type = "log-log"), 0.5)``
(tolerance of study.R_PARITY["km_median"]), the CR counts a plain SQL count."""

from __future__ import annotations

import json
import shutil
import subprocess

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis_assets.study import ENDPOINTS, R_PARITY

R_MEDIANS = """
suppressMessages(library(survival)); library(jsonlite)
d <- read.csv(commandArgs(TRUE)[1])
out <- list()
for (e in unique(d$endpoint)) {
  s <- d[d$endpoint == e, ]
  q <- quantile(survfit(Surv(months, event) ~ centre, data = s, conf.type = "log-log"), 0.5)
  for (i in seq_along(rownames(q$quantile))) {
    centre <- sub("centre=", "", rownames(q$quantile)[i])
    out[[paste(centre, e)]] <- c(q$quantile[i], q$lower[i], q$upper[i])
  }
}
cat(toJSON(out, digits = NA, na = "null"))
"""


@pytest.fixture(scope="module")
def published(demo):
    with duckdb.connect(str(demo.warehouse), read_only=True) as conn:
        table = conn.sql("select * from analysis.centre_outcomes").df()
        cr = dict(
            conn.sql(
                "select centre_code, count(*) filter (where cr_day30) from mart.patient_outcomes "
                "group by 1"
            ).fetchall()
        )
        parts = [
            conn.sql(
                f"select centre_code as centre, '{name}' as endpoint, {e.months} as months, "
                f"{e.event}::int as event from mart.patient_outcomes "
                f"where {e.months} is not null and {e.event} is not null"
            ).df()
            for name, e in ENDPOINTS.items()
        ]
    return table, cr, parts


def test_centre_medians_equal_r_survfit(published, tmp_path):
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: run `make sysdeps`")
    table, _, parts = published
    csv = tmp_path / "centres.csv"
    pd.concat(parts).to_csv(csv, index=False)
    script = tmp_path / "medians.R"
    script.write_text(R_MEDIANS)
    done = subprocess.run(
        ["Rscript", str(script), str(csv)], capture_output=True, text=True, check=True
    )
    expected = json.loads(done.stdout)
    assert len(expected) == len(table) > 0
    tolerance = R_PARITY["km_median"].tolerance
    for r in table.itertuples():
        ours = np.array([r.median_months, r.median_ci_lower, r.median_ci_upper], dtype=float)
        theirs = np.array(expected[f"{r.centre_code} {r.endpoint}"], dtype=float)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance, equal_nan=True)


def test_centre_cr_counts_and_rates(published):
    table, cr, _ = published
    for r in table.itertuples():
        assert r.responders == cr[r.centre_code]
        assert r.response_rate_pct == pytest.approx(round(100 * r.responders / r.patients, 1))
    assert table.groupby("endpoint")["patients"].sum().eq(93).all()


def test_a_cohort_without_patients_in_cr_has_empty_competing_risks_tables(demo, tmp_path):
    """A new consortium's first deliveries may have no CR yet: the tables keep their columns
    (as the demo's) with no rows, and there is no cumulative incidence figure."""
    from analysis_assets.figures.robustness import robustness_figures
    from analysis_assets.robustness import competing_risks_tables

    with duckdb.connect(str(demo.warehouse), read_only=True) as conn:
        outcomes = conn.sql("select * from mart.patient_outcomes").df()
        published = {
            t: list(conn.sql(f"select * from analysis.{t} limit 0").df().columns)
            for t in (
                "cumulative_incidence",
                "cumulative_incidence_at_ticks",
                "competing_risks_tests",
            )
        }
    tables = competing_risks_tables(outcomes.assign(lfs_months=None))
    assert {t: list(df.columns) for t, df in tables.items()} == published
    assert all(df.empty for df in tables.values())
    drawn = robustness_figures(tables, tmp_path)
    assert drawn == [] and not list(tmp_path.iterdir())
