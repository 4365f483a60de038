"""Analysis assets: thin wrappers that read the mart, call the plain functions of
analysis_assets and write the results (DuckDB schema analysis, CSV under CARTWH_OUTPUT/tables).

They depend on the quality results, so a failing blocking check stops them."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from analysis_assets.biomarker_tables import biomarker_tests
from analysis_assets.cox_tables import cox_tables
from analysis_assets.descriptive_tables import cohort_flow, table1, toxicity_summary
from analysis_assets.figures import all_figures
from analysis_assets.report import build_report
from analysis_assets.response_tables import response_rates
from analysis_assets.survival_tables import follow_up_table, survival_tables
from analysis_assets.tables import write_tables
from cartwh.version import code_version
from orchestration.resources import Study, Warehouse

UPSTREAM = [
    AssetKey(["mart", "patient_outcomes"]),
    AssetKey(["mart", "cohort_flow"]),
    AssetKey(["quality", "check_results"]),
]


def _mart(conn) -> pd.DataFrame:
    return conn.execute("select * from mart.patient_outcomes").df()


def _survival(conn) -> dict[str, pd.DataFrame]:
    mart = _mart(conn)
    return {**survival_tables(mart), "follow_up": follow_up_table(mart)}


def _descriptive(conn) -> dict[str, pd.DataFrame]:
    mart = _mart(conn)
    return {
        "cohort_flow": cohort_flow(conn.execute("select * from mart.cohort_flow").df()),
        "table1": table1(mart),
        "toxicity_summary": toxicity_summary(mart),
    }


ANALYSES: dict[str, tuple[Callable[..., dict[str, pd.DataFrame]], dict[str, str]]] = {
    "descriptive_analysis": (
        _descriptive,
        {
            "cohort_flow": "CONSORT-style cohort flow, overall and by centre, with percentages.",
            "table1": "Table 1: characteristics overall and by toxicity group, CRS and ICANS, "
            "with the test used and p.",
            "toxicity_summary": "Incidence, onset and duration of CRS/ICANS; tocilizumab and "
            "corticosteroid use and doses (dexamethasone equivalents).",
        },
    ),
    "survival_analysis": (
        _survival,
        {
            "km_estimates": "Kaplan-Meier estimates (log-log 95% CI) of OS and LFS by every comparison.",
            "survival_medians": "Median OS/LFS with 95% CI (R's rules) and survival at 12/24/36 months.",
            "logrank_tests": "Log-rank tests of OS and LFS for every comparison of the study.",
            "follow_up": "Median follow-up by reverse Kaplan-Meier with 95% CI.",
        },
    ),
    "response_analysis": (
        lambda conn: {"response_rates": response_rates(_mart(conn))},
        {
            "response_rates": "CR and MRD-negative CR at day 30 by every comparison (Figure 1): "
            "n, responders, rate, chi-squared or exact Fisher p.",
        },
    ),
    "biomarker_analysis": (
        lambda conn: {"biomarker_tests": biomarker_tests(_mart(conn))},
        {
            "biomarker_tests": "Peak IL-6, cell dose and peak CAR copies by group: median (range), "
            "Mann-Whitney U or Kruskal-Wallis.",
        },
    ),
    "cox_analysis": (
        lambda conn: cox_tables(_mart(conn)),
        {
            "cox_univariate": "Univariate Cox models (Efron) for OS and LFS: HR, 95% Wald CI, p.",
            "cox_multivariate": "Table 2: multivariate Cox for OS and LFS with the group's Wald test.",
            "ph_assumption": "Proportional-hazards test of each multivariate model.",
        },
    ),
}


def build_analysis_asset(name: str, compute, tables: dict[str, str]):
    @multi_asset(
        name=name,
        specs=[
            AssetSpec(
                AssetKey(["analysis", table]),
                deps=UPSTREAM,
                group_name="analysis",
                description=description,
                kinds={"duckdb", "csv"},
            )
            for table, description in tables.items()
        ],
        can_subset=False,
    )
    def _analysis(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
        with warehouse.write_connection() as conn:
            written = write_tables(conn, compute(conn), Path(study.output) / "tables")
        for table, rows in written.items():
            yield MaterializeResult(
                asset_key=AssetKey(["analysis", table]), metadata={"rows": rows}
            )

    return _analysis


ANALYSIS_ASSETS = [
    build_analysis_asset(name, compute, tables) for name, (compute, tables) in ANALYSES.items()
]


REPORT_INPUTS = [table for _, tables in ANALYSES.values() for table in tables]


@asset(
    key=AssetKey(["analysis", "report"]),
    deps=[AssetKey(["analysis", t]) for t in REPORT_INPUTS]
    + [AssetKey(["mart", "patient_outcomes"]), AssetKey(["mart", "daily_toxicity"])],
    group_name="analysis",
    description="Figures (PNG and SVG) under CARTWH_OUTPUT/figures and the self-contained "
    "results report CARTWH_OUTPUT/report.html, with provenance.",
    kinds={"html"},
)
def report(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
    output = Path(study.output)
    with warehouse.get_connection() as conn:
        tables = {
            f"analysis.{t}": conn.execute(f"select * from analysis.{t}").df() for t in REPORT_INPUTS
        }
        tables["mart.patient_outcomes"] = conn.execute("select * from mart.patient_outcomes").df()
        tables["mart.daily_toxicity"] = conn.execute("select * from mart.daily_toxicity").df()
        deliveries = conn.execute(
            "select c.centre_code, c.delivery_id, sum(d.rows_read) as rows_read "
            "from raw.current_deliveries c join raw.deliveries d using (centre_code, delivery_id) "
            "where d.status = 'loaded' group by all order by 1"
        ).fetchall()
    figures = all_figures(tables, output / "figures")
    provenance = {
        "cut-off": study.cutoff,
        "deliveries used": [f"{c} {d} ({n} rows)" for c, d, n in deliveries],
        "code version": code_version(),
        "generated at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    path = build_report(tables, figures, provenance, output / "report.html")
    context.log.info(f"report: {path}")
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(str(path)),
            "figures": len({f.stem for f in figures}),
        }
    )
