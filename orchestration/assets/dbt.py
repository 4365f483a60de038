"""dbt models as Dagster assets, grouped by layer; dbt tests become asset checks."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.resources import Study, Warehouse

LAYERS = ("staging", "intermediate", "marts", "restricted", "quality")


class LayerTranslator(DagsterDbtTranslator):
    """Groups: one per dbt layer (folder under models/), seeds under "reference"."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        parts = Path(dbt_resource_props.get("original_file_path", "")).parts
        for layer in LAYERS:
            if layer in parts:
                return "mart" if layer == "marts" else layer
        return super().get_group_name(dbt_resource_props)


def build_dbt_assets(dbt_project: DbtProject):
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=LayerTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def cartwh_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, study: Study
    ):
        with warehouse.write_lock(context.log.info):
            # dbt-duckdb's own connect retries (profiles.yml) say nothing in the log
            warehouse.wait_for_readers(context.log.info)
            context.log.info("dbt build starts")
            yield from dbt.cli(["build", "--vars", study.dbt_vars], context=context).stream()

    return cartwh_dbt_models
