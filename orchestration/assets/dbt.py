"""dbt models as Dagster assets, grouped by layer; dbt tests become asset checks."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetCheckSpec, AssetExecutionContext, AssetSpec
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.catalogue import LAYERS, Layer, describe_dbt_test, staging_centre
from orchestration.resources import Study, Warehouse

DBT_LAYERS = ("staging", "intermediate", "marts", "restricted", "quality")


class LayerTranslator(DagsterDbtTranslator):
    """Groups: one per dbt layer (folder under models/), seeds under "reference"; each asset
    carries its layer's owner, tags (layer, phi, centre of a staging model) and description
    (:mod:`orchestration.catalogue`). dbt tests become asset checks described in words."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        parts = Path(dbt_resource_props.get("original_file_path", "")).parts
        for layer in DBT_LAYERS:
            if layer in parts:
                return "mart" if layer == "marts" else layer
        return super().get_group_name(dbt_resource_props)

    def _layer(self, dbt_resource_props: Mapping[str, Any]) -> Layer | None:
        return LAYERS.get(self.get_group_name(dbt_resource_props) or "")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        layer = self._layer(dbt_resource_props)
        return [layer.owner] if layer else super().get_owners(dbt_resource_props)

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        layer = self._layer(dbt_resource_props)
        if layer is None:
            return tags
        centre = staging_centre(dbt_resource_props.get("name", ""))
        return {**tags, **layer.tags(**({"centre": centre} if centre else {}))}

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        layer = self._layer(dbt_resource_props)
        extra = layer.metadata() if layer else {}
        return {**super().get_metadata(dbt_resource_props), **extra}

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        test = manifest["nodes"][unique_id]
        return spec._replace(description=describe_dbt_test(test, asset_spec.key.path[-1]))


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
