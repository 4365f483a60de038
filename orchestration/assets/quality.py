"""Data queries back to the centres: one CSV per centre, in the centre's own patient ids."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.resources import Study, Warehouse
from cartwh.queries import write_centre_queries


@asset(
    key=AssetKey(["quality", "centre_query_files"]),
    deps=[AssetKey(["restricted", "centre_queries"])],
    group_name="quality",
    description="CARTWH_OUTPUT/queries/<centre>/queries_<delivery>.csv from "
                "restricted.centre_queries: what each centre should resolve (restricted output).",
    kinds={"csv"},
)
def centre_query_files(context: AssetExecutionContext, warehouse: Warehouse, study: Study):
    with warehouse.get_connection() as conn:
        written = write_centre_queries(conn, Path(study.output) / "queries")
    for path, rows in written.items():
        context.log.info(f"{rows} queries -> {path}")
    return MaterializeResult(metadata={
        "files": MetadataValue.md("\n".join(f"- `{p}`: {n} queries" for p, n in written.items())
                                  or "none"),
        "queries": sum(written.values()),
    })
