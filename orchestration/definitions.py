"""The Dagster code location (``workspace.yaml`` points here)."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    definitions,
    in_process_executor,
)

from cartwh.config import get_settings
from cartwh.dbt_build import prepare as prepare_dbt
from orchestration.assets.analysis import ANALYSIS_ASSETS, report
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.quality import centre_query_files, mart_expectations
from orchestration.assets.raw import build_raw_centre_asset
from orchestration.checks.quality import QUALITY_CHECKS
from orchestration.dbt_project import build_dbt_project
from orchestration.resources import build_resources


def build_definitions() -> Definitions:
    settings = get_settings()
    centres = prepare_dbt(settings)
    dbt_project = build_dbt_project(settings)
    raw_assets = [build_raw_centre_asset(centre) for centre in centres]
    return Definitions(
        assets=[
            *raw_assets,
            build_dbt_assets(dbt_project),
            centre_query_files,
            mart_expectations,
            *ANALYSIS_ASSETS,
            report,
        ],
        asset_checks=QUALITY_CHECKS,
        resources=build_resources(settings, dbt_project),
        jobs=[define_asset_job("refresh_all", selection=AssetSelection.all())],
        # DuckDB takes one writer at a time: run steps in one process, in order.
        executor=in_process_executor,
    )


@definitions
def defs() -> Definitions:
    """Loaded lazily by Dagster tools, with the environment of the loading process."""
    return build_definitions()
