"""The Dagster code location (``workspace.yaml`` points here)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from cartwh.config import get_settings
from orchestration.assets.raw import build_raw_centre_asset, known_centres
from orchestration.resources import build_resources


def build_definitions() -> Definitions:
    settings = get_settings()
    centres = known_centres(settings.landing, settings.mappings)
    raw_assets = [build_raw_centre_asset(centre) for centre in centres]
    return Definitions(
        assets=raw_assets,
        resources=build_resources(settings),
        jobs=[define_asset_job("refresh_all", selection=AssetSelection.all())],
        # DuckDB takes one writer at a time: run steps in one process, in order.
        executor=in_process_executor,
    )


defs = build_definitions()
