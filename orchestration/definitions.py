"""The Dagster code location (``workspace.yaml`` points here)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    definitions,
    in_process_executor,
)

from cartwh.ingest.registry import load_registry
from cartwh.settings import Settings, read_settings
from cartwh.transform.prepare import prepare as prepare_dbt
from cartwh.warehouse import configure as configure_warehouse
from orchestration.assets.analysis import ANALYSIS_ASSETS, build_publish_asset, report
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.quality import centre_query_files, mart_expectations
from orchestration.assets.raw import LEDGER_ASSETS, build_raw_centre_asset, landing_folders
from orchestration.checks.quality import QUALITY_CHECKS
from orchestration.dbt_project import build_dbt_project
from orchestration.resources import build_resources
from orchestration.sensors import build_schedule, build_sensor

REFRESH_JOB = "refresh_all"


def build_definitions(settings: Settings) -> Definitions:
    """Assets of the registered centres (the registry, not the landing folder, decides)."""
    registry = load_registry(settings.mappings)
    prepare_dbt(settings, registry)
    configure_warehouse(settings.duckdb_memory)
    dbt_project = build_dbt_project(settings)
    raw_assets = [build_raw_centre_asset(centre) for centre in registry.centres]
    assets = [
        landing_folders,
        *raw_assets,
        build_dbt_assets(dbt_project),
        centre_query_files,
        mart_expectations,
        *ANALYSIS_ASSETS,
        report,
    ]
    everything = [key for definition in assets for key in definition.keys]
    return Definitions(
        assets=[*assets, build_publish_asset(everything), *LEDGER_ASSETS],
        asset_checks=QUALITY_CHECKS,
        resources=build_resources(settings, dbt_project),
        jobs=[define_asset_job(REFRESH_JOB, selection=AssetSelection.all())],
        sensors=[build_sensor(settings, REFRESH_JOB)],
        schedules=[build_schedule(settings, REFRESH_JOB)],
        # DuckDB takes one writer at a time: run steps in one process, in order.
        executor=in_process_executor,
    )


@definitions
def defs() -> Definitions:
    """Loaded lazily by Dagster tools, with the settings of the loading process."""
    return build_definitions(read_settings())
