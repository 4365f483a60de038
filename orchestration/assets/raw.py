"""Raw load assets: one multi-asset per centre, one asset per raw table.

Per-centre assets keep centres separable: a centre's new delivery refreshes
that centre's raw tables (and, downstream, only what depends on them).
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

from cartwh.loader import ensure_centre_tables, load_landing, raw_table_name
from cartwh.loader.discovery import discover_deliveries
from cartwh.mapping import mapping_for
from models.extract_format import ENTITIES
from orchestration.resources import Landing, Warehouse

RAW_GROUP = "raw"


def raw_asset_key(centre: str, entity: str) -> AssetKey:
    return AssetKey(["raw", raw_table_name(centre, entity)])


def _ledger_summary(conn, centre: str) -> list[dict]:
    rows = conn.execute(
        "select delivery_id, "
        "case when bool_or(status = 'rejected') then 'rejected' else 'loaded' end as status, "
        "sum(rows_read) filter (where status = 'loaded') as rows, "
        "any_value(message) filter (where status = 'rejected') as message "
        "from raw.deliveries where centre_code = ? group by delivery_id, delivery_fingerprint "
        "order by delivery_id",
        [centre],
    ).fetchall()
    return [dict(zip(("delivery_id", "status", "rows", "message"), r)) for r in rows]


def build_raw_centre_asset(centre: str):
    specs = [
        AssetSpec(
            raw_asset_key(centre, entity),
            group_name=RAW_GROUP,
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
        with warehouse.write_connection() as conn:
            results = load_landing(
                conn,
                landing.landing_path,
                landing.mappings_path,
                centres=[centre],
                progress=context.log.info,
            )
            mapping = mapping_for(centre, landing.mappings_path)
            ensure_centre_tables(conn, mapping)
            summary = _ledger_summary(conn, centre)
            counts = {
                entity: conn.execute(
                    f'select count(*) from raw."{raw_table_name(centre, entity)}"'
                ).fetchall()[0][0]
                if entity in mapping.entities
                else 0
                for entity in ENTITIES
            }
            current = conn.execute(
                "select delivery_id from raw.current_deliveries where centre_code = ?", [centre]
            ).fetchall()
        for entity in ENTITIES:
            yield MaterializeResult(
                asset_key=raw_asset_key(centre, entity),
                metadata={
                    "rows_all_deliveries": counts[entity],
                    "current_delivery": current[0][0] if current else None,
                },
            )
        folders, _ = discover_deliveries(landing.landing_path, [centre])
        newest = max((f.delivery_id for f in folders), default=None)
        rejected = [r for r in summary if r["status"] == "rejected"]
        newest_rejected = [r for r in rejected if r["delivery_id"] == newest]
        yield AssetCheckResult(
            asset_key=anchor,
            check_name="has_current_delivery",
            passed=bool(current),
            severity=AssetCheckSeverity.WARN,
            metadata={
                "current_delivery": current[0][0] if current else None,
                "deliveries_seen": len(folders),
            },
        )
        yield AssetCheckResult(
            asset_key=anchor,
            check_name="latest_delivery_accepted",
            passed=not newest_rejected,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "newest_delivery_folder": newest,
                "rejections": MetadataValue.md(
                    "\n".join(f"- `{r['delivery_id']}`: {r['message']}" for r in rejected) or "none"
                ),
                "this_run": MetadataValue.json(
                    [
                        {"delivery": r.label, "status": r.status, "message": r.message}
                        for r in results
                    ]
                ),
            },
        )

    return _raw_centre
