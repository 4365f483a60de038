"""Analysis assets: thin wrappers that read the mart, call the plain functions of
analysis_assets and write the results (DuckDB schema analysis, CSV under CARTWH_OUTPUT/tables).

They depend on the quality results, so a failing blocking check stops them."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from analysis_assets.survival_tables import follow_up_table, survival_tables
from analysis_assets.tables import write_tables
from orchestration.resources import Study, Warehouse

UPSTREAM = [AssetKey(["mart", "patient_outcomes"]), AssetKey(["quality", "check_results"])]
SURVIVAL_TABLES = {
    "km_estimates": "Kaplan-Meier estimates (log-log 95% CI) of OS and LFS by every comparison.",
    "survival_medians": "Median OS/LFS with 95% CI (R's rules) and survival at 12/24/36 months.",
    "logrank_tests": "Log-rank tests of OS and LFS for every comparison of the study.",
    "follow_up": "Median follow-up by reverse Kaplan-Meier with 95% CI.",
}


@multi_asset(
    name="survival_analysis",
    specs=[AssetSpec(AssetKey(["analysis", name]), deps=UPSTREAM, group_name="analysis",
                     description=description, kinds={"duckdb", "csv"})
           for name, description in SURVIVAL_TABLES.items()],
    can_subset=False,
)
def survival_analysis(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
    with warehouse.write_connection() as conn:
        mart = conn.execute("select * from mart.patient_outcomes").df()
        tables = survival_tables(mart)
        tables["follow_up"] = follow_up_table(mart)
        written = write_tables(conn, tables, Path(study.output) / "tables")
    for name, rows in written.items():
        yield MaterializeResult(asset_key=AssetKey(["analysis", name]), metadata={"rows": rows})
