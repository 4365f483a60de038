"""Data queries back to the centres: one CSV per centre, in the centre's own patient ids."""

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    MaterializeResult,
    MetadataValue,
    asset,
)

from cartwh.previews import patient_outcomes_preview, table_rows
from cartwh.quality.expectations import validate_mart
from cartwh.quality.queries import write_centre_queries
from cartwh.quality.results import failed_checks
from orchestration.catalogue import LAYERS
from orchestration.resources import Study, Warehouse


@asset(
    key=AssetKey(["quality", "centre_query_files"]),
    deps=[AssetKey(["restricted", "centre_queries"])],
    # the files name the centres' own patient ids
    **LAYERS["quality"].spec_kwargs(phi="true"),
    description="CARTWH_OUTPUT/queries/<centre>/queries_<delivery>.csv from "
    "restricted.centre_queries: what each centre should resolve (restricted output).",
    kinds={"csv"},
)
def centre_query_files(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
    with warehouse.get_connection() as conn:
        written = write_centre_queries(conn, Path(study.output) / "queries")
    for path, rows in written.items():
        context.log.info(f"{rows} queries -> {path}")
    return MaterializeResult(
        metadata={
            "files": MetadataValue.md(
                "\n".join(f"- `{p}`: {n} queries" for p, n in written.items()) or "none"
            ),
            "queries": sum(written.values()),
        }
    )


MART_TABLES = ("patient_outcomes", "time_to_event", "daily_toxicity")


def _mart_observations(conn):
    """Row counts of the mart and a preview of patient_outcomes, shown on the mart's assets
    (dbt materialises them; this step reads them right after)."""
    for table, rows in table_rows(conn, "mart", MART_TABLES).items():
        metadata = {"dagster/row_count": rows}
        if table == "patient_outcomes":
            metadata["preview"] = MetadataValue.md(patient_outcomes_preview(conn))
        yield AssetObservation(asset_key=AssetKey(["mart", table]), metadata=metadata)


@asset(
    key=AssetKey(["quality", "mart_expectations"]),
    deps=[AssetKey(["mart", table]) for table in MART_TABLES],
    **LAYERS["quality"].spec_kwargs(),
    description="great-expectations suites on the mart (distributions, cross-column plausibility) "
    "and their Data Docs in CARTWH_OUTPUT/data_docs, readable offline.",
    kinds={"great_expectations"},
    check_specs=[
        AssetCheckSpec(
            "expectations_met",
            asset=AssetKey(["quality", "mart_expectations"]),
            description="Every expectation of the mart suites is met.",
        )
    ],
)
def mart_expectations(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
    docs = Path(study.output) / "data_docs"
    with warehouse.get_connection() as conn:
        results = validate_mart(conn, docs)
        failing = failed_checks(conn)
        yield from _mart_observations(conn)
    failed = [dict(suite=r.suite, **f) for r in results for f in r.failed]
    yield MaterializeResult(
        metadata={
            "data_docs": MetadataValue.path(str(docs / "index.html")),
            "data_docs_link": MetadataValue.url((docs / "index.html").resolve().as_uri()),
            "failed_expectations": len(failed),
            "failing_quality_checks": len(failing),
            "failing_blocking_checks": int((failing["severity"] == "blocking").sum()),
            "suites": MetadataValue.md(
                "\n".join(
                    f"- {r.suite}: {r.successful}/{r.evaluated} expectations met on {r.rows} rows"
                    for r in results
                )
            ),
        }
    )
    yield AssetCheckResult(
        check_name="expectations_met",
        passed=not failed,
        severity=AssetCheckSeverity.WARN,
        metadata={"failed_expectations": len(failed), "failures": MetadataValue.json(failed)},
    )
