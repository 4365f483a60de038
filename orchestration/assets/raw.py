"""Raw load assets: one multi-asset per registered centre, one asset per raw table.

Per-centre assets keep centres separable: a centre's new delivery refreshes that centre's raw
tables (and, downstream, only what depends on them). The work is in :mod:`cartwh.ingest`.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from cartwh.ingest import CentreLoad, load_centre, raw_table_name
from models.extract_format import ENTITIES
from orchestration.resources import Landing, Warehouse


def raw_asset_key(centre: str, entity: str) -> AssetKey:
    return AssetKey(["raw", raw_table_name(centre, entity)])


def _checks(loaded: CentreLoad, anchor: AssetKey):
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="has_current_delivery",
        passed=loaded.current_delivery is not None,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "current_delivery": loaded.current_delivery,
            "deliveries_seen": len(loaded.delivery_folders),
        },
    )
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="latest_delivery_accepted",
        passed=not loaded.newest_rejected,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "newest_delivery_folder": loaded.newest_folder,
            "rejections": MetadataValue.md(
                "\n".join(f"- `{r.delivery_id}`: {r.message}" for r in loaded.rejections) or "none"
            ),
            "this_run": MetadataValue.json(
                [
                    {"delivery": r.label, "status": r.status, "message": r.message}
                    for r in loaded.results
                ]
            ),
        },
    )


def build_raw_centre_asset(centre: str):
    specs = [
        AssetSpec(
            raw_asset_key(centre, entity),
            group_name="raw",
            description=f"{entity} of centre {centre}, every delivery, as delivered (all text).",
            kinds={"duckdb"},
            tags={"centre": centre},
        )
        for entity in ENTITIES
    ]
    anchor = raw_asset_key(centre, "patients")
    checks = [
        AssetCheckSpec(
            "has_current_delivery",
            asset=anchor,
            description=f"{centre} has at least one accepted delivery (else it "
            "contributes no patients).",
        ),
        AssetCheckSpec(
            "latest_delivery_accepted",
            asset=anchor,
            description=f"The newest delivery folder of {centre} was not rejected.",
        ),
    ]

    @multi_asset(
        name=f"raw_{centre}",
        specs=specs,
        check_specs=checks,
        can_subset=False,
        description=f"Load the deliveries of centre {centre} into raw.",
    )
    def _raw_centre(context: AssetExecutionContext, warehouse: Warehouse, landing: Landing):
        mapping = landing.registry().mapping(centre)
        with warehouse.write_connection() as conn:
            loaded = load_centre(conn, landing.landing_path, mapping, progress=context.log.info)
        for entity in ENTITIES:
            yield MaterializeResult(
                asset_key=raw_asset_key(centre, entity),
                metadata={
                    "rows_all_deliveries": loaded.raw_rows.get(entity, 0),
                    "current_delivery": loaded.current_delivery,
                },
            )
        yield from _checks(loaded, anchor)

    return _raw_centre
