"""Analysis assets: thin wrappers that read the mart, call the plain functions of
analysis_assets and write the results (DuckDB schema analysis, CSV under CARTWH_OUTPUT/tables).

They depend on the quality results, so a failing blocking check stops them."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from analysis_assets.biomarker_tables import biomarker_tests
from analysis_assets.cox_tables import cox_tables
from analysis_assets.response_tables import response_rates
from analysis_assets.survival_tables import follow_up_table, survival_tables
from analysis_assets.tables import write_tables
from orchestration.resources import Study, Warehouse

UPSTREAM = [AssetKey(["mart", "patient_outcomes"]), AssetKey(["quality", "check_results"])]


def _survival(mart: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {**survival_tables(mart), "follow_up": follow_up_table(mart)}


ANALYSES: dict[str, tuple[Callable[[pd.DataFrame], dict[str, pd.DataFrame]], dict[str, str]]] = {
    "survival_analysis": (_survival, {
        "km_estimates": "Kaplan-Meier estimates (log-log 95% CI) of OS and LFS by every comparison.",
        "survival_medians": "Median OS/LFS with 95% CI (R's rules) and survival at 12/24/36 months.",
        "logrank_tests": "Log-rank tests of OS and LFS for every comparison of the study.",
        "follow_up": "Median follow-up by reverse Kaplan-Meier with 95% CI.",
    }),
    "response_analysis": (lambda mart: {"response_rates": response_rates(mart)}, {
        "response_rates": "CR and MRD-negative CR at day 30 by every comparison (Figure 1): "
                          "n, responders, rate, chi-squared or exact Fisher p.",
    }),
    "biomarker_analysis": (lambda mart: {"biomarker_tests": biomarker_tests(mart)}, {
        "biomarker_tests": "Peak IL-6, cell dose and peak CAR copies by group: median (range), "
                           "Mann-Whitney U or Kruskal-Wallis.",
    }),
    "cox_analysis": (cox_tables, {
        "cox_univariate": "Univariate Cox models (Efron) for OS and LFS: HR, 95% Wald CI, p.",
        "cox_multivariate": "Table 2: multivariate Cox for OS and LFS with the group's Wald test.",
        "ph_assumption": "Proportional-hazards test of each multivariate model.",
    }),
}


def build_analysis_asset(name: str, compute, tables: dict[str, str]):
    @multi_asset(
        name=name,
        specs=[AssetSpec(AssetKey(["analysis", table]), deps=UPSTREAM, group_name="analysis",
                         description=description, kinds={"duckdb", "csv"})
               for table, description in tables.items()],
        can_subset=False,
    )
    def _analysis(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
        with warehouse.write_connection() as conn:
            mart = conn.execute("select * from mart.patient_outcomes").df()
            written = write_tables(conn, compute(mart), Path(study.output) / "tables")
        for table, rows in written.items():
            yield MaterializeResult(asset_key=AssetKey(["analysis", table]), metadata={"rows": rows})

    return _analysis


ANALYSIS_ASSETS = [build_analysis_asset(name, compute, tables)
                   for name, (compute, tables) in ANALYSES.items()]
