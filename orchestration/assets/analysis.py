"""Analysis assets: read the mart, call the plain functions of analysis_assets, write the results
(DuckDB schema analysis, CSV under CARTWH_OUTPUT/tables, and Tables 1 and 2 also as .docx
there); then the figures and the report.

Which analyses, tables and descriptions: ``analysis_assets.study.ANALYSES``. The analyses
depend on the quality results, so a failing blocking check stops them. They are built aside
(schema analysis_next, CARTWH_OUTPUT/.next-<run id>/) and published by the last step,
``published``, which runs only when every other asset of the refresh materialised
(:mod:`cartwh.publish`)."""

from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from analysis_assets.analyses import run_analysis
from analysis_assets.figures import DRAWN_COLUMNS, all_figures
from analysis_assets.provenance import DeliveryUsed, Provenance
from analysis_assets.report import build_report
from analysis_assets.study import ANALYSES, REPORT_MART_TABLES, TABLE1_COMPARISONS, Analysis
from analysis_assets.tables import DOCUMENTS, write_tables
from cartwh.analyst import check_publishable, publish_package
from cartwh.faults import crash_point
from cartwh.history import patient_columns
from cartwh.ingest.ledger import current_deliveries
from cartwh.previews import thumbnail_markdown
from cartwh.publish import (
    REPORT,
    STAGED_SCHEMA,
    publish_files,
    publish_refresh_tables,
    staging_folder,
)
from cartwh.quality.results import intake_summaries
from cartwh.quality.summary import cohort_summary
from cartwh.refresh_status import record_published
from cartwh.version import code_version
from orchestration.catalogue import LAYERS
from orchestration.resources import PUBLISHED, Landing, Study, Warehouse

QUALITY_GATE = AssetKey(["quality", "check_results"])
#: every analysis table: what the report reads and what the last step publishes
ANALYSIS_TABLES = [table for analysis in ANALYSES.values() for table in analysis.tables]


def _read(conn, schema: str, tables) -> dict:
    return {table: conn.execute(f"select * from {schema}.{table}").df() for table in tables}


def _read_mart(conn, tables, columns: dict[str, list[str]] | None = None) -> dict:
    """Mart tables in one row order every time: DuckDB returns rows in any order, and figures
    draw rows (and float sums add them) in the order they come. A table named in ``columns``
    is read with those columns only, its text as categories (a row per patient-day: 3 M rows
    at 100,000 patients, a copy in each drawing process)."""
    columns = columns or {}
    read = {}
    for table in tables:
        if table in columns:
            query = f"select {', '.join(columns[table])} from mart.{table} order by all"
            read[table] = conn.sql(query).to_arrow_table().to_pandas(strings_to_categorical=True)
        else:
            read[table] = conn.execute(f"select * from mart.{table} order by all").df()
    return read


def build_analysis_asset(name: str, analysis: Analysis):
    @multi_asset(
        name=name,
        specs=[
            AssetSpec(
                AssetKey(["analysis", table]),
                deps=[AssetKey(["mart", t]) for t in analysis.inputs]
                + [AssetKey(["analysis", t]) for t in analysis.analysis_inputs]
                + [QUALITY_GATE],
                description=description,
                kinds={"duckdb", "csv"},
                **LAYERS["analysis"].spec_kwargs(),
            )
            for table, description in analysis.tables.items()
        ],
        can_subset=False,
    )
    def _analysis(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
        staged = staging_folder(Path(study.output), context.run.run_id)
        with warehouse.write_connection(context.log.info) as conn:
            tables = run_analysis(
                name,
                _read_mart(conn, analysis.inputs),
                _read(conn, STAGED_SCHEMA, analysis.analysis_inputs),
            )
            written = write_tables(conn, tables, staged / "tables", schema=STAGED_SCHEMA)
            crash_point("analysis")
        for table, rows in written.items():
            published = Path(study.output) / "tables"
            documents = {"document": MetadataValue.path(str(published / f"{table}.docx"))}
            yield MaterializeResult(
                asset_key=AssetKey(["analysis", table]),
                metadata={
                    "rows": rows,
                    "dagster/row_count": rows,
                    "published_as": MetadataValue.path(str(published / f"{table}.csv")),
                    **(documents if table in DOCUMENTS else {}),
                },
            )

    return _analysis


ANALYSIS_ASSETS = [build_analysis_asset(name, analysis) for name, analysis in ANALYSES.items()]


@asset(
    key=AssetKey(["analysis", "report"]),
    deps=[AssetKey(["analysis", t]) for t in ANALYSIS_TABLES]
    + [AssetKey(["mart", t]) for t in REPORT_MART_TABLES]
    + [AssetKey(["quality", "nulled_fields"]), AssetKey(["quality", "quarantine"])],
    **LAYERS["report"].spec_kwargs(),
    description="Figures (300-dpi PNG, PDF and SVG) under CARTWH_OUTPUT/figures and the "
    "self-contained results report CARTWH_OUTPUT/report.html (Methods, Results, figures, "
    "tables), with provenance.",
    kinds={"html"},
)
def report(context: AssetExecutionContext, warehouse: Warehouse, study: Study, landing: Landing):
    staged = staging_folder(Path(study.output), context.run.run_id)
    with warehouse.get_connection(context.log.info) as conn:
        tables = {
            **_read(conn, STAGED_SCHEMA, ANALYSIS_TABLES),
            **_read_mart(conn, REPORT_MART_TABLES, DRAWN_COLUMNS),
        }
        tables.update(intake_summaries(conn))
        deliveries = current_deliveries(conn)
        intake = cohort_summary(conn, list(landing.registry().centres))
    provenance = Provenance(
        cutoff=study.parameters.cutoff,
        deliveries=tuple(
            DeliveryUsed(d.centre_code, d.delivery_id, d.fingerprint, d.files, d.rows_read)
            for d in deliveries
        ),
        code_version=code_version(),
        run_id=context.run.run_id,
        generated_at=datetime.now(UTC),
        intake=tuple(intake.lines()),
    )
    figures = all_figures(tables, staged / "figures", provenance)
    path = build_report(tables, figures, provenance, staged / "report.html")
    crash_point("report")
    context.log.info(f"report (published at the end of the refresh): {path}")
    published = Path(study.output)
    km = sorted(f for f in figures if f.suffix == ".png" and f.stem.startswith("km_"))
    # thumbnails of the study's main comparison only: each one is a few kB in the event log
    main = [f for f in km if f.stem.endswith(f"_{TABLE1_COMPARISONS[0]}")]
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(str(published / REPORT)),
            "report_link": MetadataValue.url((published / REPORT).resolve().as_uri()),
            "figures": len({f.stem for f in figures}),
            "figures_folder": MetadataValue.path(str(published / "figures")),
            "kaplan_meier_figures": len(km),
            "kaplan_meier": MetadataValue.md(thumbnail_markdown(main)),
        }
    )


def build_publish_asset(upstream: list[AssetKey]):
    """The last step: depends on every other asset, so it runs only when all materialised and
    no blocking check stopped them."""

    @asset(
        key=PUBLISHED,
        deps=upstream,
        **LAYERS["report"].spec_kwargs(),
        description="Publishes this refresh's analysis: schema analysis_next becomes analysis (one "
        "transaction), the staged tables/, figures/ and report.html replace the published ones, "
        "the PHI-free analyst package (CARTWH_ANALYST: analyst.duckdb, Parquet, codebook) is "
        "rewritten, and the refresh is recorded as finished. Skipped when anything upstream "
        "failed; a table the analyst package could not publish (a date of care, an undocumented "
        "column) fails it before anything is published.",
        kinds={"duckdb", "html"},
    )
    def published(
        context: AssetExecutionContext, warehouse: Warehouse, study: Study, landing: Landing
    ):
        output, run_id = Path(study.output), context.run.run_id
        with warehouse.write_connection(context.log.info) as conn:
            check_publishable(conn, {"analysis": STAGED_SCHEMA})
            tables = publish_refresh_tables(
                conn, output, run_id, ANALYSIS_TABLES, patient_columns(landing.registry())
            )
        crash_point("publish_tables")
        publish_files(output, run_id)
        with warehouse.write_connection(context.log.info) as conn:
            publish_package(conn, Path(study.analyst), context.log.info)
        record_published(Path(warehouse.work), run_id)
        context.log.info(f"published the analysis of run {run_id} in {output}")
        return MaterializeResult(metadata={"tables": len(tables)})

    return published
