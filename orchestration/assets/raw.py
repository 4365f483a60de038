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
    asset,
    multi_asset,
)

from cartwh.ingest import CentreLoad, load_centre, raw_table_name, scan_landing
from cartwh.ingest.mapping import MappingError
from cartwh.transform.codegen import LEDGER_TABLES
from models.extract_format import ENTITIES
from orchestration.catalogue import LAYERS
from orchestration.resources import Landing, Warehouse


def raw_asset_key(centre: str, entity: str) -> AssetKey:
    return AssetKey(["raw", raw_table_name(centre, entity)])


def _checks(loaded: CentreLoad, anchor: AssetKey):
    yield AssetCheckResult(asset_key=anchor, check_name="mapping_valid", passed=True)
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="no_delivery_held",
        passed=not loaded.held,
        severity=AssetCheckSeverity.WARN,
        description="\n".join(loaded.held_warnings()) or None,
        metadata={
            "current_delivery": loaded.current_delivery,
            "held": MetadataValue.json([a.delivery_id for a in loaded.held]),
        },
    )
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="current_delivery_in_landing",
        passed=loaded.current_folder_gone_warning() is None,
        severity=AssetCheckSeverity.WARN,
        description=loaded.current_folder_gone_warning(),
    )
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="has_current_delivery",
        passed=loaded.current_delivery is not None,
        severity=AssetCheckSeverity.WARN,
        description=None
        if loaded.current_delivery
        else f"{loaded.centre_code}: no accepted delivery: the centre contributes no patients",
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
        description=loaded.newest_rejected_warning(),
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
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="delivery_folders_valid",
        passed=not loaded.skipped,
        severity=AssetCheckSeverity.WARN,
        description="\n".join(f"skipped {f.label}: {f.reason}" for f in loaded.skipped) or None,
        metadata={"skipped": MetadataValue.json([f.label for f in loaded.skipped])},
    )


def _unusable_mapping(centre: str, anchor: AssetKey, error: MappingError, check_names):
    """A centre whose mapping file cannot be used loads nothing; the other centres go on."""
    for entity in ENTITIES:
        yield MaterializeResult(
            asset_key=raw_asset_key(centre, entity), metadata={"loaded": "nothing: mapping invalid"}
        )
    description = (
        f"{centre}: nothing loaded: {error}; fix the mapping file (check it with "
        f"`cartwh mapping check <file> --delivery <folder>`), then refresh"
    )
    yield AssetCheckResult(
        asset_key=anchor,
        check_name="mapping_valid",
        passed=False,
        severity=AssetCheckSeverity.WARN,
        description=" ".join(description.split()),
    )
    for name in check_names:
        if name != "mapping_valid":
            yield AssetCheckResult(
                asset_key=anchor,
                check_name=name,
                passed=True,
                metadata={"evaluated": "no: the mapping file is invalid"},
            )


def build_raw_centre_asset(centre: str):
    specs = [
        AssetSpec(
            raw_asset_key(centre, entity),
            description=f"{entity} of centre {centre}, every delivery, as delivered (all text).",
            kinds={"duckdb"},
            **LAYERS["raw"].spec_kwargs(centre=centre),
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
            "delivery_folders_valid",
            asset=anchor,
            description=f"Every folder under {centre}/ is a delivery (YYYY-MM-DD[suffix]).",
        ),
        AssetCheckSpec(
            "latest_delivery_accepted",
            asset=anchor,
            description=f"The newest delivery folder of {centre} was not rejected.",
        ),
        AssetCheckSpec(
            "mapping_valid",
            asset=anchor,
            description=f"The mapping file of {centre} can be used (else nothing of the centre "
            "loads, and the other centres go on).",
        ),
        AssetCheckSpec(
            "no_delivery_held",
            asset=anchor,
            description=f"No delivery of {centre} is held by the acceptance gate (one that "
            "would drop too many of the current delivery's patients waits for a person to "
            "accept or withdraw it).",
        ),
        AssetCheckSpec(
            "current_delivery_in_landing",
            asset=anchor,
            description=f"The current delivery of {centre} is still in the landing area.",
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
        try:
            mapping = landing.registry().mapping(centre)
        except MappingError as exc:
            yield from _unusable_mapping(centre, anchor, exc, [c.name for c in checks])
            return
        with warehouse.write_connection() as conn:
            loaded = load_centre(
                conn,
                landing.landing_path,
                mapping,
                progress=context.log.info,
                private_tmp=landing.private_tmp_path,
                max_patient_drop=landing.max_patient_drop,
            )
        for entity in ENTITIES:
            yield MaterializeResult(
                asset_key=raw_asset_key(centre, entity),
                metadata={
                    "dagster/row_count": loaded.raw_rows.get(entity, 0),
                    "rows_all_deliveries": loaded.raw_rows.get(entity, 0),
                    "centre": centre,
                    "current_delivery": loaded.current_delivery,
                    "deliveries_in_landing": len(loaded.delivery_folders),
                },
            )
        yield from _checks(loaded, anchor)

    return _raw_centre


LANDING_SCAN = AssetKey(["raw", "landing_folders"])

#: the delivery ledger that the raw loads write and dbt reads as sources; declared as external
#: assets so that the UI lists them in the raw group (not in "default") with what they hold
LEDGER_ASSETS = [
    AssetSpec(
        AssetKey(["raw", table]),
        description=description,
        kinds={"duckdb"},
        **LAYERS["raw"].spec_kwargs(),
    )
    for table, description in LEDGER_TABLES.items()
]


@asset(
    key=LANDING_SCAN,
    **LAYERS["raw"].spec_kwargs(),
    description="Scan of the landing area: every folder that is not a registered centre's is "
    "recorded in raw.deliveries as skipped, with the fix (rename it, or register the centre).",
    kinds={"duckdb"},
    check_specs=[
        AssetCheckSpec(
            "every_landing_folder_registered",
            asset=LANDING_SCAN,
            description="Every folder of the landing area belongs to a registered centre.",
        )
    ],
)
def landing_folders(context: AssetExecutionContext, warehouse: Warehouse, landing: Landing):
    with warehouse.write_connection() as conn:
        skipped = scan_landing(conn, landing.landing_path, landing.registry())
    for folder in skipped:
        context.log.warning(f"skipped {folder.label}: {folder.reason}")
    centres = sorted(landing.registry().centres)
    yield MaterializeResult(
        metadata={
            "skipped_folders": len(skipped),
            "registered_centres": len(centres),
            "centres": ", ".join(centres),
        }
    )
    yield AssetCheckResult(
        check_name="every_landing_folder_registered",
        passed=not skipped,
        severity=AssetCheckSeverity.WARN,
        description="\n".join(f"skipped {f.label}: {f.reason}" for f in skipped) or None,
        metadata={"skipped": MetadataValue.json([f.label for f in skipped])},
    )
