"""dbt models as Dagster assets, grouped by layer; dbt tests become asset checks."""

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from cartwh.faults import crash_point
from orchestration.catalogue import LAYERS, Layer, describe_dbt_test, staging_centre
from orchestration.progress import dbt_progress
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


#: dbt's unit tests check the SQL's logic on fixed inputs, not the data: dbt advises running
#: them in development and CI, not in production builds (`make test` runs them,
#: tests/test_mart.py); a refresh builds the models and runs the data tests
REFRESH_BUILD_ARGS = ("build", "--no-use-colors", "--exclude-resource-type", "unit_test")


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
            invocation = dbt.cli([*REFRESH_BUILD_ARGS, "--vars", study.dbt_vars], context=context)
            _RUNNING.add(invocation.process)
            built = []
            for event in _counting(invocation, context):
                if isinstance(event, Output | AssetMaterialization):
                    built.append(event)
                yield event
            # dbt holds the file while it runs: count the tables' rows after it, in one go
            with warehouse.get_connection(context.log.info) as conn:
                yield from row_counts(built, invocation.manifest, conn, context)

    return cartwh_dbt_models


#: seconds dbt gets to stop on SIGTERM before it is killed
DBT_STOP_SECONDS = 10
#: the dbt processes this process started
_RUNNING: set[subprocess.Popen] = set()


def stop_running_dbt() -> None:
    """Stop every dbt this process started that still runs.

    Called when a refresh ends, before the warehouse's lock is released: a step that ends
    before its dbt does (an error while storing dbt's events, such as a full disk) would
    otherwise leave dbt writing the warehouse after the refresh has stopped (dagster-dbt
    stops it only on an interrupt).
    """
    for process in list(_RUNNING):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=DBT_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _RUNNING.discard(process)


#: dbt's log events that end a node ("n of m")
_NODE_RESULTS = {
    "LogModelResult",
    "LogSeedResult",
    "LogTestResult",
    "LogSnapshotResult",
    "LogNodeResult",
    "LogFreshnessResult",
    "SkippingDetails",
    "LogNodeNoOpResult",
}


def _counting(invocation, context: AssetExecutionContext):
    """The invocation's Dagster events; its node results are counted and logged as
    ``dbt progress`` (``orchestration.progress``), at most every half second and at the end."""
    done = failed = warned = total = 0
    logged = 0.0
    for event in invocation.stream_raw_events():
        info, data = event.raw_event["info"], event.raw_event["data"]
        if info["name"] in _NODE_RESULTS:
            done += 1
            total = max(total, int(data.get("total") or 0), done)
            status = str(data.get("status", "")).lower()
            failed += status in ("error", "fail", "runtime error")
            warned += status == "warn"
            if done == 1:
                crash_point("dbt")
            if time.monotonic() - logged > 0.5 or done == total:
                context.log.debug(dbt_progress(done, total, failed, warned))
                logged = time.monotonic()
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )
    context.log.info(dbt_progress(done, total, failed, warned))


def row_counts(built, manifest: Mapping[str, Any], conn, context: AssetExecutionContext):
    """An observation with ``dagster/row_count`` for each table model or seed of ``built``
    (materialisations are yielded as dbt goes, while the file is dbt's alone)."""
    for event in built:
        node = event.metadata.get("unique_id")
        props = manifest["nodes"].get(getattr(node, "value", node)) or {}
        if props.get("resource_type") in ("model", "seed") and props["config"].get(
            "materialized"
        ) in ("table", "incremental", "seed"):
            relation = f'"{props["schema"]}"."{props.get("alias") or props["name"]}"'
            [(rows,)] = conn.execute(f"select count(*) from {relation}").fetchall()
            key = (
                event.asset_key
                if isinstance(event, AssetMaterialization)
                else context.asset_key_for_output(event.output_name)
            )
            yield AssetObservation(asset_key=key, metadata={"dagster/row_count": rows})
